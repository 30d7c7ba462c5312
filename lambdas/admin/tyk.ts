import * as z from 'zod';
import { fieldProblems, type FieldProblem } from '../core/model/input-error.ts';

/**
 * Tyk migration: pure mappings from Tyk's session and policy objects (snake_case, as
 * Tyk's Gateway API and Dashboard export them) to gatepass's inputs (camelCase). The
 * results are then validated like any other admin body.
 *
 * | Tyk field | gatepass field | mapping |
 * |---|---|---|
 * | `expires` | `expires` | `<= 0` (Tyk's `-1`, `0`) → 0 = never; Tyk checks `expires >= 1` |
 * | `quota_max` | `quotaMax` | `<= 0` → -1 (unlimited): Tyk skips the quota when `quota_max <= 0`, gatepass's 0 means "no requests" |
 * | `quota_remaining` | `quotaRemaining` | clamped to 0..`quota_max`; -1 when unlimited |
 * | `quota_renewal_rate` | `quotaRenewalRate` | `<= 0` → 0 = never renews (as in Tyk) |
 * | `quota_renews` | `quotaRenews` | as is; `<= 0` → omitted (now + renewal rate) |
 * | `rate`, `per` | `rate`, `per` | `rate <= 0` → no limit (0, 0), as in Tyk; fractions scaled to whole numbers (0.5 per 1 → 1 per 2) |
 * | `access_rights` (map key = API id) | `accessRights` | `api_name` → `apiName`, `versions` as is, `allowed_urls` see {@link tykUrlPattern}; an entry without `methods` allows nothing in Tyk and is dropped (an API left with none gets a never-matching entry) |
 * | `alias` | `alias` | `""` → omitted |
 * | `meta_data` | `metaData` | strings, numbers, booleans as is; objects and arrays as JSON text; `null` dropped |
 * | `tags` | `tags` | `null` → [] |
 * | `apply_policies`, legacy `apply_policy_id` | `applyPolicies` | `apply_policy_id` used only when `apply_policies` is empty (Tyk's `PolicyIDs()`) |
 * | `is_inactive` | `isInactive` | as is |
 * | (policy) `name`, `key_expires_in` | `name`, `keyExpiresIn` | `key_expires_in <= 0` → 0 = never |
 * | (policy) `active`, `is_inactive` | `isInactive` | `is_inactive === true || active === false` |
 *
 * Ignored (reported in `ignoredFields` when set): every other Tyk field, e.g. `org_id`,
 * `hmac_enabled`, `hmac_string`, `basic_auth_data`, `jwt_data`, `oauth_client_id`, `oauth_keys`,
 * `certificate`, `last_check`, `allowance`, `throttle_interval`, `throttle_retry_limit`,
 * `max_query_depth`, `date_created`, `last_updated`, `data_expires`, `monitor`,
 * `enable_detailed_recording`, `session_lifetime`, `id_extractor_deadline`, and per API
 * `limit`, `allowance_scope`, `restricted_types`, `allowed_types`, `field_access_rights`,
 * `disable_introspection`, `endpoints`; for policies also `id`, `_id`, `partitions`, `graphql`.
 */

export const TYK_SESSION_CONTENT_TYPE = 'application/vnd.tyk.session+json';
export const TYK_POLICY_CONTENT_TYPE = 'application/vnd.tyk.policy+json';

/** A pattern that matches no path: what a Tyk API whose every `allowed_urls` entry lacks methods allows. */
export const NEVER_MATCHING_URL = '(?!)';

/** A mapping's outcome: the gatepass input and the Tyk fields it ignored, or the bad Tyk fields. */
export type TykMapping =
  | { readonly ok: true; readonly input: Record<string, unknown>; readonly ignored: string[] }
  | { readonly ok: false; readonly problems: FieldProblem[] };

const TykAllowedUrlSchema = z.looseObject({
  url: z.string().min(1).max(1024),
  methods: z.array(z.string().max(32)).max(16).nullish(),
});

const TykAccessDefinitionSchema = z.looseObject({
  api_id: z.string().optional(),
  api_name: z.string().optional(),
  versions: z.array(z.string().min(1).max(128)).max(64).nullish(),
  allowed_urls: z.array(TykAllowedUrlSchema).max(256).nullish(),
});

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

const TykPolicySchema = z.looseObject({
  ...limitFields,
  name: z.string().optional(),
  key_expires_in: z.int().optional(),
  active: z.boolean().optional(),
});

const SESSION_FIELDS = new Set(Object.keys(TykSessionSchema.shape));
const POLICY_FIELDS = new Set(Object.keys(TykPolicySchema.shape));
const ACCESS_FIELDS = new Set(Object.keys(TykAccessDefinitionSchema.shape));

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
  Object.assign(input, mapLimits(tyk, problems));
  if (tyk.quota_remaining !== undefined && tyk.quota_max !== undefined) {
    const max = input.quotaMax as number;
    input.quotaRemaining = max === -1 ? -1 : Math.min(Math.max(0, tyk.quota_remaining), max);
  } else if (tyk.quota_remaining !== undefined) {
    input.quotaRemaining = Math.max(-1, tyk.quota_remaining);
  }
  if (tyk.quota_renews !== undefined && tyk.quota_renews > 0) input.quotaRenews = tyk.quota_renews;
  if (tyk.alias) input.alias = tyk.alias;
  const policies = tyk.apply_policies?.length ? tyk.apply_policies : tyk.apply_policy_id ? [tyk.apply_policy_id] : [];
  input.applyPolicies = policies;

  const ignored = ignoredFields(tyk, SESSION_FIELDS);
  if (tyk.access_rights) ignored.push(...ignoredAccessFields(tyk.access_rights));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, input, ignored };
}

/**
 * A Tyk policy object as the body of `PUT /policies/{id}` (the id comes from the path;
 * Tyk's `id` and `_id` are ignored).
 *
 * @example
 * tykPolicyToInput({ name: 'gold', rate: 100, per: 1, quota_max: -1, active: true });
 */
export function tykPolicyToInput(body: unknown): TykMapping {
  const parsed = TykPolicySchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: fieldProblems(parsed.error) };
  const tyk = parsed.data;
  const problems: FieldProblem[] = [];
  const input: Record<string, unknown> = mapLimits(tyk, problems);
  if (tyk.name) input.name = tyk.name;
  if (tyk.key_expires_in !== undefined) input.keyExpiresIn = Math.max(0, tyk.key_expires_in);
  input.isInactive = tyk.is_inactive === true || tyk.active === false;

  const ignored = ignoredFields(tyk, POLICY_FIELDS);
  if (tyk.access_rights) ignored.push(...ignoredAccessFields(tyk.access_rights));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, input, ignored };
}

/**
 * Tyk's `allowed_urls[].url` as a gatepass pattern. Tyk compiles it as a Go regular
 * expression and tests it with `MatchString` on the request path — unanchored, so
 * `/pets` also allows `/v1/pets/42/owner` (GranularAccessMiddleware, `gateway/mw_granular_access.go`,
 * unless `http_server_options.enable_path_prefix_matching`/`…suffix…` are on). gatepass
 * anchors patterns at both ends, so the pattern becomes `.*(?:url).*`, which matches
 * exactly the paths Tyk's did, `^`/`$` inside included. Also converted as Tyk 5 does:
 * mux parameters `{id}` → `[^/]+`; and Go's `(?P<name>` → JavaScript's `(?<name>`.
 *
 * @example
 * tykUrlPattern('/pets/{id}'); // '.*(?:/pets/[^/]+).*'
 */
export function tykUrlPattern(url: string): string {
  const converted = url.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, '[^/]+').replaceAll('(?P<', '(?<');
  return `.*(?:${converted}).*`;
}

/** Names a gatepass input field (`accessRights.api1.allowedUrls`) by its Tyk name (`access_rights.api1.allowed_urls`). */
export function tykFieldName(field: string): string {
  const parts = field.split('.');
  const rename = (i: number): void => {
    if (parts[i] !== undefined) parts[i] = TYK_NAMES[parts[i]!] ?? parts[i]!;
  };
  rename(0);
  if (parts[0] === 'access_rights') {
    rename(2);
    if (parts[2] === 'allowed_urls') rename(4);
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
};

type LimitFields = z.output<z.ZodObject<typeof limitFields>>;

/** The fields sessions and policies share. */
function mapLimits(tyk: LimitFields, problems: FieldProblem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (tyk.rate !== undefined || tyk.per !== undefined) Object.assign(out, mapRate(tyk.rate ?? 0, tyk.per ?? 0, problems));
  if (tyk.quota_max !== undefined) out.quotaMax = tyk.quota_max <= 0 ? -1 : tyk.quota_max;
  if (tyk.quota_renewal_rate !== undefined) out.quotaRenewalRate = Math.max(0, tyk.quota_renewal_rate);
  if (tyk.access_rights) out.accessRights = mapAccessRights(tyk.access_rights, problems);
  out.tags = tyk.tags ?? [];
  out.metaData = mapMetaData(tyk.meta_data ?? {});
  if (tyk.is_inactive !== undefined) out.isInactive = tyk.is_inactive;
  return out;
}

function mapRate(rate: number, per: number, problems: FieldProblem[]): { rate: number; per: number } {
  if (rate <= 0) return { rate: 0, per: 0 };
  if (per <= 0) {
    problems.push({ field: 'per', message: 'must be greater than 0 when rate is set' });
    return { rate: 0, per: 0 };
  }
  // Tyk's rate and per are floats: scale a fraction to whole requests per whole seconds.
  for (let scale = 1; scale <= 1000; scale++) {
    const r = rate * scale;
    const p = per * scale;
    if (isWhole(r) && isWhole(p)) return { rate: Math.round(r), per: Math.round(p) };
  }
  problems.push({ field: 'rate', message: 'rate and per must be whole numbers or simple fractions (such as 0.5)' });
  return { rate: 0, per: 0 };
}

function isWhole(value: number): boolean {
  return Math.abs(value - Math.round(value)) < 1e-9 * Math.max(1, Math.abs(value));
}

type TykAccess = z.output<typeof TykAccessDefinitionSchema>;

function mapAccessRights(rights: Record<string, TykAccess>, problems: FieldProblem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [apiId, def] of Object.entries(rights)) {
    const right: Record<string, unknown> = {};
    if (def.api_name) right.apiName = def.api_name;
    if (def.versions?.length) right.versions = def.versions;
    if (def.allowed_urls?.length) {
      const entries: Array<{ url: string; methods: string[] }> = [];
      def.allowed_urls.forEach((spec, i) => {
        const at = `access_rights.${apiId}.allowed_urls.${i}`;
        const methods = [...new Set(spec.methods ?? [])];
        methods.forEach((method, j) => {
          if (!/^[A-Z]+$/.test(method)) {
            problems.push({ field: `${at}.methods.${j}`, message: 'must be an upper-case HTTP method (Tyk compares methods case-sensitively)' });
          }
        });
        const url = tykUrlPattern(spec.url);
        if (!compiles(url)) problems.push({ field: `${at}.url`, message: 'must be a regular expression JavaScript can compile' });
        else if (url.length > 1024) problems.push({ field: `${at}.url`, message: 'is too long once converted' });
        // No methods: Tyk allows nothing through this entry (it looks for the method in an empty list).
        if (methods.length > 0) entries.push({ url, methods });
      });
      right.allowedUrls = entries.length > 0 ? entries : [{ url: NEVER_MATCHING_URL }];
    }
    // Defined, not assigned: an API id such as `__proto__` must stay an ordinary key.
    Object.defineProperty(out, apiId, { value: right, enumerable: true, writable: true, configurable: true });
  }
  return out;
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

function compiles(pattern: string): boolean {
  try {
    new RegExp(`^(?:${pattern})$`);
    return true;
  } catch {
    return false;
  }
}

/** Fields not mapped that carry a value (Tyk exports zero values for everything). */
function ignoredFields(object: Record<string, unknown>, known: ReadonlySet<string>, prefix = ''): string[] {
  return Object.entries(object)
    .filter(([name, value]) => !known.has(name) && !isZeroValue(value))
    .map(([name]) => prefix + name)
    .sort();
}

function ignoredAccessFields(rights: Record<string, TykAccess>): string[] {
  return Object.entries(rights).flatMap(([apiId, def]) => ignoredFields(def, ACCESS_FIELDS, `access_rights.${apiId}.`));
}

function isZeroValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isZeroValue);
  return false;
}
