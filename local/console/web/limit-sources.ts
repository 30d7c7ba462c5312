import { quotaText, rateText } from './format.ts';

/**
 * Where each limit in force comes from, for people. The numbers themselves are the admin
 * API's (`explain`'s `effective.limits`, computed by the authorizer's own merge); this only
 * names their origin, following the same rules: a key without policies uses its own limits;
 * with policies, each part (rate limit, quota) comes from the applied policies that take
 * part in it — all of them unless `partitions` names parts — the most generous value winning;
 * a part no applied policy takes part in stays the key's own. Pure, no DOM.
 */

/** The policy fields this reads (an admin API policy has them). */
export interface SourcePolicy {
  readonly id: string;
  readonly rate?: number;
  readonly per?: number;
  readonly quotaMax?: number;
  readonly quotaRenewalRate?: number;
  readonly partitions?: { readonly quota?: boolean; readonly rateLimit?: boolean; readonly acl?: boolean; readonly perApi?: boolean };
}

export interface LimitsInForce {
  readonly rate: number;
  readonly per: number;
  readonly quotaMax: number;
  readonly quotaRenewalRate: number;
}

/** One row of the "limits in force" table. */
export interface LimitSource {
  readonly limit: 'rate limit' | 'quota';
  readonly value: string;
  readonly source: string;
}

/**
 * @param applyPolicies - the key's `applyPolicies`
 * @param policies - the applied policies that exist (missing ones are simply absent)
 * @param effective - `effective.limits` from explain
 *
 * @example
 * limitSources([], [], { rate: 5, per: 10, quotaMax: 100, quotaRenewalRate: 3600 });
 * // [{ limit: 'rate limit', value: '5 per 10 s', source: "this key's own settings" }, …]
 */
export function limitSources(applyPolicies: readonly string[], policies: readonly SourcePolicy[], effective: LimitsInForce): LimitSource[] {
  const rows: [LimitSource['limit'], string][] = [
    ['rate limit', rateText(effective)],
    ['quota', quotaText(effective)],
  ];
  const ids = [...new Set(applyPolicies)];
  const missing = ids.filter((id) => !policies.some((policy) => policy.id === id));
  if (ids.length === 0) return rows.map(([limit, value]) => ({ limit, value, source: "this key's own settings" }));
  if (missing.length > 0) {
    const source = `policy ${missing.join(', ')} is missing: every request is denied`;
    return rows.map(([limit, value]) => ({ limit, value, source }));
  }
  const applied = ids.map((id) => policies.find((policy) => policy.id === id)!);
  return [
    { limit: 'rate limit', value: rows[0]![1], source: sourceOf(applied, 'rateLimit', effective) },
    { limit: 'quota', value: rows[1]![1], source: sourceOf(applied, 'quota', effective) },
  ];
}

function sourceOf(applied: readonly SourcePolicy[], part: 'rateLimit' | 'quota', effective: LimitsInForce): string {
  const taking = applied.filter((policy) => takesPart(policy, part));
  if (taking.length === 0)
    return `this key's own settings (no applied policy takes part in the ${part === 'quota' ? 'quota' : 'rate limit'})`;
  const setting = taking.filter((policy) => !policy.partitions?.perApi && (part === 'quota' ? policy.quotaMax : policy.rate) !== undefined);
  if (setting.length === 0) return `no applied policy sets it (${taking.map((policy) => policy.id).join(', ')} take part): no limit`;
  const winners = setting.filter((policy) =>
    part === 'quota'
      ? policy.quotaMax === effective.quotaMax
      : policy.rate === effective.rate && (effective.rate === 0 || policy.per === effective.per),
  );
  const named = (winners.length > 0 ? winners : setting).map((policy) => policy.id).join(', ');
  return setting.length === 1
    ? `policy ${named}`
    : `policy ${named}: the most generous of ${setting.map((policy) => policy.id).join(', ')}`;
}

function takesPart(policy: SourcePolicy, part: 'rateLimit' | 'quota'): boolean {
  const p = policy.partitions;
  const partitioned = p?.quota === true || p?.rateLimit === true || p?.acl === true;
  return !partitioned || p?.[part] === true;
}
