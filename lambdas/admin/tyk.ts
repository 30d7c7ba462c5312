import * as z from 'zod';
import { fieldProblems, type FieldProblem } from '../core/model/input-error.ts';
import { tykAccessRights, TykAccessDefinitionSchema, unmapped } from './tyk-access.ts';
import { tykLimits } from './tyk-limits.ts';

export { NEVER_MATCHING_URL, tykUrlPattern } from './tyk-access.ts';

/**
 * Tyk migration: pure mappings from Tyk's session and policy objects (snake_case, as
 * Tyk's Gateway API and Dashboard export them) to gatepass's inputs (camelCase). The
 * results are then validated like any other admin body. Tyk's rules are cited from its
 * repository (TykTechnologies/tyk).
 *
 * | Tyk field | gatepass field | mapping |
 * |---|---|---|
 * | `expires` | `expires` | `<= 0` (Tyk's `-1`, `0`) → 0 = never; Tyk checks `expires >= 1` |
 * | (key) `quota_max` | `quotaMax` | `<= 0` or absent → -1 (unlimited): Tyk skips the quota when `quota_max <= 0`, gatepass's 0 means "no requests" |
 * | (key) `quota_remaining` | `quotaRemaining` | clamped to 0..`quota_max`, -1 when unlimited; with policies as is (Tyk computed it under the policies' quota); **absent → 0**: Tyk 5.12+ omits zero values (`omitzero`), and its key export computes `quota_remaining` whenever there is a quota, so absent means used up |
 * | (key) `quota_renewal_rate` | `quotaRenewalRate` | `<= 0` → 0 = never renews (as in Tyk) |
 * | `quota_renews` | `quotaRenews` | as is; `<= 0` → omitted (now + renewal rate) |
 * | (key) `rate`, `per` | `rate`, `per` | `rate <= 0` → no limit (0, 0), as in Tyk; fractions scaled to whole numbers (0.5 per 1 → 1 per 2) |
 * | (policy) `rate`, `per`, `quota_max`, `quota_renewal_rate` | the same, or left out | not set when Tyk's merge skips them (`rate == 0 \|\| per == 0`, `quota_max: 0`, `quota_renewal_rate <= 0`); a negative rate (-1 per -1) → `rate: 0` (no limit, which wins a merge); see `tyk-limits.ts` |
 * | `access_rights` (map key = API id) | `accessRights` | see `tyk-access.ts`: `api_name` → `apiName`, `versions` as is, `allowed_urls` converted as Tyk's `PreparePathRegexp`; an entry without `methods` allows nothing in Tyk and is dropped (an API left with none gets a never-matching entry) |
 * | `access_rights.{api}.limit` | `accessRights.{api}.limit` | a key's own, or a `per_api` policy's (Tyk ignores it in other policies); any field set = the API's own limits |
 * | (policy) `partitions` | `partitions` | `quota`, `rate_limit` → `rateLimit`, `acl`, `per_api` → `perApi`; `complexity` (GraphQL) ignored |
 * | `alias` | `alias` | `""` → omitted |
 * | `meta_data` | `metaData` | strings, numbers, booleans as is; objects and arrays as JSON text; `null` dropped |
 * | `tags` | `tags` | `null` → [] |
 * | `apply_policies`, legacy `apply_policy_id` | `applyPolicies` | `apply_policy_id` used only when `apply_policies` is empty (Tyk's `PolicyIDs()`) |
 * | `is_inactive` | `isInactive` | as is (gatepass: the key's own switch denies even with active policies) |
 * | (policy) `name`, `key_expires_in` | `name`, `keyExpiresIn` | `key_expires_in <= 0` → 0 = never |
 * | (policy) `active`, `is_inactive` | `isInactive` | `is_inactive === true || active === false` |
 *
 * Ignored (reported in `ignoredFields` when set): every other Tyk field, e.g. `org_id`,
 * `hmac_enabled`, `hmac_string`, `basic_auth_data`, `jwt_data`, `oauth_client_id`, `oauth_keys`,
 * `certificate`, `last_check`, `allowance`, `throttle_interval`, `throttle_retry_limit`,
 * `max_query_depth`, `date_created`, `last_updated`, `data_expires`, `monitor`, `smoothing`,
 * `enable_detailed_recording`, `session_lifetime`, `id_extractor_deadline`; per API
 * `allowance_scope`, `restricted_types`, `allowed_types`, `field_access_rights`,
 * `disable_introspection`, `endpoints`, and in `limit` the counters (`quota_remaining`,
 * `quota_renews`: an API's own quota starts a fresh window) and throttling; for policies
 * also `id`, `_id`, `graphql`, `partitions.complexity`.
 */

export const TYK_SESSION_CONTENT_TYPE = 'application/vnd.tyk.session+json';
export const TYK_POLICY_CONTENT_TYPE = 'application/vnd.tyk.policy+json';

/** A mapping's outcome: the gatepass input and the Tyk fields it ignored, or the bad Tyk fields. */
export type TykMapping =
  | { readonly ok: true; readonly input: Record<string, unknown>; readonly ignored: string[] }
  | { readonly ok: false; readonly problems: FieldProblem[] };

const limitFields = {
  rate: z.number().optional(),
  per: z.number().optional(),
  quota_max: z.int().optional(),
  quota_renewal_rate: z.int().optional(),
  access_rights: z.record(z.string().min(1).max(128), TykAccessDefinitionSchema).nullish(),
  tags: z.array(z.string()).nullish(),
  meta_data: z.record(z.string(), z.unknown()).nullish(),
  is_inactive: z.boolean().optional(),
};

const TykSessionSchema = z.looseObject({
  ...limitFields,
  /** Not Tyk's: the raw key to import (Tyk keeps it outside the session object). */
  key: z.unknown().optional(),
  expires: z.int().optional(),
  quota_remaining: z.int().optional(),
  quota_renews: z.int().optional(),
  alias: z.string().optional(),
  apply_policies: z.array(z.string()).nullish(),
  apply_policy_id: z.string().optional(),
});

/** Tyk's `PolicyPartitions` (`user/policy.go`). */
const TykPartitionsSchema = z.looseObject({
  quota: z.boolean().optional(),
  rate_limit: z.boolean().optional(),
  acl: z.boolean().optional(),
  per_api: z.boolean().optional(),
});

const TykPolicySchema = z.looseObject({
  ...limitFields,
  name: z.string().optional(),
  key_expires_in: z.int().optional(),
  active: z.boolean().optional(),
  partitions: TykPartitionsSchema.nullish(),
});

const SESSION_FIELDS = new Set(Object.keys(TykSessionSchema.shape));
const POLICY_FIELDS = new Set(Object.keys(TykPolicySchema.shape));
const PARTITION_FIELDS = new Set(Object.keys(TykPartitionsSchema.shape));

/**
 * A Tyk session object as the body of `POST /keys`. A top-level `key` (not a Tyk field)
 * imports that raw key.
 *
 * @example
 * tykSessionToInput({ expires: -1, quota_max: 0, rate: 10, per: 60, org_id: 'x' });
 * // { ok: true, input: { expires: 0, quotaMax: -1, quotaRemaining: -1, rate: 10, per: 60, … }, ignored: ['org_id'] }
 */
export function tykSessionToInput(body: unknown): TykMapping {
  const parsed = TykSessionSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: fieldProblems(parsed.error) };
  const tyk = parsed.data;
  const problems: FieldProblem[] = [];
  const input: Record<string, unknown> = {};

  if (tyk.key !== undefined) input.key = tyk.key;
  if (tyk.expires !== undefined) input.expires = Math.max(0, tyk.expires);
  // Tyk 5.12+ omits zero values: an absent quota_max is 0, no quota.
  Object.assign(input, tykLimits({ ...tyk, quota_max: tyk.quota_max ?? 0 }, 'key', problems, ''));
  const policies = tyk.apply_policies?.length ? tyk.apply_policies : tyk.apply_policy_id ? [tyk.apply_policy_id] : [];
  input.applyPolicies = policies;
  // An absent quota_remaining is 0 too: used up (Tyk's key export computes it whenever there
  // is a quota). With policies, Tyk computed it under the policies' quota (it applies them
  // first), which is how gatepass reads it too.
  const remaining = Math.max(0, tyk.quota_remaining ?? 0);
  const quotaMax = input.quotaMax as number;
  input.quotaRemaining = policies.length > 0 ? remaining : quotaMax === -1 ? -1 : Math.min(remaining, quotaMax);
  if (tyk.quota_renews !== undefined && tyk.quota_renews > 0) input.quotaRenews = tyk.quota_renews;
  if (tyk.alias) input.alias = tyk.alias;
  const ignored = [...unmapped(tyk, SESSION_FIELDS, undefined, ''), ...shared(tyk, input, true, problems)];
  return problems.length > 0 ? { ok: false, problems } : { ok: true, input, ignored };
}

/**
 * A Tyk policy object as the body of `PUT /policies/{id}` (the id comes from the path;
 * Tyk's `id` and `_id` are ignored).
 *
 * @example
 * tykPolicyToInput({ name: 'gold', rate: 100, per: 1, quota_max: -1, active: true });
 * // { ok: true, input: { name: 'gold', rate: 100, per: 1, quotaMax: -1, isInactive: false, … }, ignored: [] }
 */
export function tykPolicyToInput(body: unknown): TykMapping {
  const parsed = TykPolicySchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: fieldProblems(parsed.error) };
  const tyk = parsed.data;
  const problems: FieldProblem[] = [];
  const input: Record<string, unknown> = { ...tykLimits(tyk, 'policy', problems, '') };
  if (tyk.name) input.name = tyk.name;
  if (tyk.key_expires_in !== undefined) input.keyExpiresIn = Math.max(0, tyk.key_expires_in);
  const ignored = unmapped(tyk, POLICY_FIELDS, undefined, '');
  const partitions = tyk.partitions ?? {};
  const mapped = { quota: partitions.quota, rateLimit: partitions.rate_limit, acl: partitions.acl, perApi: partitions.per_api };
  const set = Object.entries(mapped).filter(([, on]) => on === true);
  if (set.length > 0) input.partitions = Object.fromEntries(set);
  ignored.push(...unmapped(partitions, PARTITION_FIELDS, undefined, 'partitions.'));
  ignored.push(...shared(tyk, input, partitions.per_api === true, problems));
  input.isInactive = tyk.is_inactive === true || tyk.active === false;
  return problems.length > 0 ? { ok: false, problems } : { ok: true, input, ignored };
}

/** Names a gatepass input field (`accessRights.api1.allowedUrls`) by its Tyk name (`access_rights.api1.allowed_urls`). */
export function tykFieldName(field: string): string {
  const parts = field.split('.');
  const rename = (i: number): void => {
    if (parts[i] !== undefined) parts[i] = TYK_NAMES[parts[i]!] ?? parts[i]!;
  };
  rename(0);
  if (parts[0] === 'partitions') rename(1);
  if (parts[0] === 'access_rights') {
    rename(2);
    if (parts[2] === 'allowed_urls') rename(4);
    if (parts[2] === 'limit') rename(3);
  }
  return parts.join('.');
}

const TYK_NAMES: Record<string, string> = {
  quotaMax: 'quota_max',
  quotaRemaining: 'quota_remaining',
  quotaRenewalRate: 'quota_renewal_rate',
  quotaRenews: 'quota_renews',
  accessRights: 'access_rights',
  applyPolicies: 'apply_policies',
  metaData: 'meta_data',
  isInactive: 'is_inactive',
  keyExpiresIn: 'key_expires_in',
  apiName: 'api_name',
  allowedUrls: 'allowed_urls',
  rateLimit: 'rate_limit',
  perApi: 'per_api',
};

type SharedFields = z.output<z.ZodObject<typeof limitFields>>;

/** Maps the fields sessions and policies share into `input`; returns the Tyk fields they ignored. */
function shared(tyk: SharedFields, input: Record<string, unknown>, withApiLimits: boolean, problems: FieldProblem[]): string[] {
  input.tags = tyk.tags ?? [];
  input.metaData = mapMetaData(tyk.meta_data ?? {});
  if (tyk.is_inactive !== undefined) input.isInactive = tyk.is_inactive;
  if (!tyk.access_rights) return [];
  const mapped = tykAccessRights(tyk.access_rights, withApiLimits, problems);
  input.accessRights = mapped.accessRights;
  return mapped.ignored;
}

function mapMetaData(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(meta)) {
    if (value === null || value === undefined) continue;
    const mapped = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
    Object.defineProperty(out, name, { value: mapped, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
