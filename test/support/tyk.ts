import { readFileSync } from 'node:fs';
import { tykPolicyToInput } from '../../lambdas/admin/tyk.ts';
import { parsePolicyInput, type Policy } from '../../lambdas/core/policies/policy.ts';

/**
 * Policies from Tyk's own policy-merge tests, verbatim: a subset of
 * `internal/policy/testdata/policies.json` in TykTechnologies/tyk (master, commit
 * 31e219bebd5598ae9cce67c9b494cebba941f4a4), keyed by the names `internal/policy/apply_test.go`
 * uses. Tyk's expectations for them are quoted where the tests use them.
 */
export const TYK_POLICIES: Readonly<Record<string, Readonly<Record<string, unknown>>>> = JSON.parse(
  readFileSync(new URL('../fixtures/tyk-policies.json', import.meta.url), 'utf8'),
);

/**
 * A Tyk policy from {@link TYK_POLICIES}, its API ids renamed (`{ a: 'local' }`: Tyk's tests
 * name APIs a, b, c, d, e; the local gateway's API is `local`).
 *
 * @example
 * tykPolicy('quota1', { a: 'local' }); // { quota_max: 2, access_rights: { local: {} }, partitions: { acl: true, quota: true } }
 */
export function tykPolicy(name: string, apis: Readonly<Record<string, string>> = {}): Record<string, unknown> {
  const policy = TYK_POLICIES[name];
  if (policy === undefined) throw new Error(`no Tyk policy ${name} in the fixture`);
  const copy = structuredClone(policy) as Record<string, unknown>;
  const rights = copy.access_rights as Record<string, unknown> | undefined;
  if (rights !== undefined)
    copy.access_rights = Object.fromEntries(Object.entries(rights).map(([api, right]) => [apis[api] ?? api, right]));
  return copy;
}

/** A Tyk policy imported as gatepass stores it (mapped, then validated), with id `name`. */
export function importedPolicy(name: string, apis: Readonly<Record<string, string>> = {}): Policy {
  const mapped = tykPolicyToInput(tykPolicy(name, apis));
  if (!mapped.ok) throw new Error(`Tyk policy ${name} does not map: ${JSON.stringify(mapped.problems)}`);
  const parsed = parsePolicyInput(mapped.input);
  if (!parsed.success) throw new Error(`Tyk policy ${name} does not validate: ${parsed.error.message}`);
  return { ...parsed.data, id: name, version: 1, createdAt: 0, updatedAt: 0 };
}
