import * as z from 'zod';
import { GatepassError } from '../model/errors.ts';
import type { Limits } from '../limits/limits.ts';
import { SessionFieldsSchema, type AccessRight, type AllowedUrl, type MetaValue } from '../model/session.ts';

/**
 * Policies (Tyk semantics): named bundles of limits and access rights that sessions
 * reference through `applyPolicies`. This file holds the input schema and the pure merge;
 * persistence and the authorizer's cache are in `policy-store.ts`.
 */

/** Policy ids: letters, digits, `_`, `.` and `-`, 1 to 128 characters. */
export const POLICY_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** True when `id` is a valid policy id. */
export function isPolicyId(id: string): boolean {
  return POLICY_ID_PATTERN.test(id);
}

const session = SessionFieldsSchema.shape;

/** Longest `keyExpiresIn`: 100 years, so that `now + keyExpiresIn` stays a valid epoch. */
const MAX_KEY_EXPIRES_IN = 100 * 366 * 86_400;

/** Fields a caller may set, with the same value rules as the session's fields. */
export const PolicyFieldsSchema = z.strictObject({
  name: z.string().min(1).max(256).optional(),
  rate: session.rate,
  per: session.per,
  quotaMax: session.quotaMax,
  quotaRenewalRate: session.quotaRenewalRate,
  accessRights: session.accessRights,
  /** Lifetime, in s, of a session created from this policy (JWT first sight); 0 = never expires. */
  keyExpiresIn: z.number().int().min(0).max(MAX_KEY_EXPIRES_IN).default(0),
  tags: session.tags,
  metaData: session.metaData,
  isInactive: session.isInactive,
});

/**
 * Body of `PUT /policies/{id}`: every field optional (defaults as in SPEC §3), read-only
 * fields a client may echo back from a GET accepted and ignored.
 *
 * @example
 * PolicyInputSchema.parse({ rate: 10, per: 1 }).quotaMax; // -1
 */
export const PolicyInputSchema = PolicyFieldsSchema.extend({
  id: z.unknown().optional(),
  version: z.unknown().optional(),
  createdAt: z.unknown().optional(),
  updatedAt: z.unknown().optional(),
}).refine((value) => !(value.rate > 0 && value.per <= 0), {
  path: ['per'],
  message: 'must be greater than 0 when rate is set',
  // Run even when other fields are bad, so that every bad field is named at once (SPEC §8);
  // only `rate` and `per` themselves must be valid for the check to mean anything.
  when: (payload) =>
    !payload.issues.some((issue) =>
      issue.path === undefined || issue.path.length === 0 ? issue.code !== 'unrecognized_keys' : issue.path[0] === 'rate' || issue.path[0] === 'per',
    ),
});

export type PolicyInput = z.input<typeof PolicyInputSchema>;
/** A validated policy body, defaults applied, read-only fields dropped. */
export type PolicyFields = z.output<typeof PolicyFieldsSchema>;

/** A policy as stored and returned by the admin API. */
export type Policy = Readonly<PolicyFields> & {
  readonly id: string;
  /** Incremented on every write; the guard for `If-Match`. */
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
};

/** Validates a policy body; `error` is zod's, for `fieldProblems`. */
export function parsePolicyInput(body: unknown): z.ZodSafeParseResult<PolicyFields> {
  const result = PolicyInputSchema.safeParse(body);
  if (!result.success) return result;
  const { id: _i, version: _v, createdAt: _c, updatedAt: _u, ...fields } = result.data;
  return { success: true, data: fields };
}

/** What a session contributes to {@link effectiveSettings}. */
export interface PolicySubject {
  readonly rate: number;
  readonly per: number;
  readonly quotaMax: number;
  readonly quotaRenewalRate: number;
  readonly accessRights: Readonly<Record<string, AccessRight>>;
  readonly applyPolicies: readonly string[];
}

/** The settings a session's checks run against. */
export interface PolicySettings {
  readonly limits: Limits;
  readonly accessRights: Record<string, AccessRight>;
  /** Some applied policy is inactive (or missing): every request is denied. */
  readonly inactive: boolean;
  /**
   * Ids in `applyPolicies` with no policy. Non-empty means the other fields are NOT safe
   * to enforce: the caller must deny (`no_matching_policy`), and check this before
   * `inactive` so that the denial names the right reason.
   */
  readonly missing: string[];
}

/**
 * The settings a session is checked against (Tyk semantics):
 * - no `applyPolicies`: the session's own limits and rights;
 * - otherwise the policies' limits and rights replace the session's own, merged as
 *   {@link mergeLimits} and {@link mergeAccessRights} describe; any inactive policy makes
 *   the session inactive. `metaData` and `tags` are not merged here.
 * Duplicate ids count once; `policies` not named by `applyPolicies` are ignored.
 *
 * @example
 * const s = effectiveSettings(session, await policies.getMany(session.applyPolicies).then((r) => r.policies));
 * if (s.missing.length > 0) return deny('no_matching_policy');
 */
export function effectiveSettings(subject: PolicySubject, policies: readonly Policy[]): PolicySettings {
  const ids = [...new Set(subject.applyPolicies)];
  if (ids.length === 0) {
    const { rate, per, quotaMax, quotaRenewalRate } = subject;
    return { limits: { rate, per, quotaMax, quotaRenewalRate }, accessRights: { ...subject.accessRights }, inactive: false, missing: [] };
  }
  const byId = new Map(policies.map((policy) => [policy.id, policy]));
  const applied = ids.flatMap((id) => byId.get(id) ?? []);
  const missing = ids.filter((id) => !byId.has(id));
  if (applied.length === 0) {
    // Nothing to enforce; `missing` tells the caller to deny. Inactive with a zero quota,
    // so that a caller ignoring `missing` still denies.
    return { limits: { rate: 0, per: 0, quotaMax: 0, quotaRenewalRate: 0 }, accessRights: {}, inactive: true, missing };
  }
  return {
    limits: mergeLimits(applied),
    accessRights: mergeAccessRights(applied.map((policy) => policy.accessRights)),
    // A missing policy also makes the session inactive, so a caller that forgets to
    // look at `missing` still denies (fail closed).
    inactive: missing.length > 0 || applied.some((policy) => policy.isInactive),
    missing,
  };
}

/**
 * The most generous limits among `policies` (at least one), each pair taken whole from
 * one policy so the result is a limit some policy actually grants:
 * - rate: `rate = 0` (no limit) wins; else the highest `rate / per`; on equal ratios the
 *   larger `rate` (bigger bursts); then the first listed.
 * - quota: `quotaMax = -1` (unlimited) wins; else the highest `quotaMax`; on equal
 *   `quotaMax` the shortest renewing window (`quotaRenewalRate > 0`, smallest), a quota
 *   that never renews (0) last; then the first listed.
 */
export function mergeLimits(policies: readonly Limits[]): Limits {
  const rate = policies.reduce((best, p) => (compareRate(p, best) > 0 ? p : best));
  const quota = policies.reduce((best, p) => (compareQuota(p, best) > 0 ? p : best));
  return { rate: rate.rate, per: rate.per, quotaMax: quota.quotaMax, quotaRenewalRate: quota.quotaRenewalRate };
}

/** > 0 when `a`'s rate limit is more generous than `b`'s. Exact (BigInt cross-multiplication). */
function compareRate(a: Limits, b: Limits): number {
  if (a.rate === 0 || b.rate === 0) return (a.rate === 0 ? 1 : 0) - (b.rate === 0 ? 1 : 0);
  const left = BigInt(a.rate) * BigInt(b.per);
  const right = BigInt(b.rate) * BigInt(a.per);
  if (left !== right) return left > right ? 1 : -1;
  return Math.sign(a.rate - b.rate);
}

/** > 0 when `a`'s quota is more generous than `b`'s. */
function compareQuota(a: Limits, b: Limits): number {
  const max = (q: number): number => (q === -1 ? Number.POSITIVE_INFINITY : q);
  if (max(a.quotaMax) !== max(b.quotaMax)) return max(a.quotaMax) > max(b.quotaMax) ? 1 : -1;
  const window = (r: number): number => (r === 0 ? Number.POSITIVE_INFINITY : r);
  return Math.sign(window(b.quotaRenewalRate) - window(a.quotaRenewalRate));
}

/**
 * The union of several access-right maps: what any of them allows is allowed.
 * - `{}` means every API (SPEC §3), so if any map is `{}` the union is `{}`;
 * - an API in several maps: `versions` omitted, empty or with `"Default"` on any side →
 *   every stage (omitted), else the union of stages; `allowedUrls` omitted or empty on
 *   any side → every path (omitted), else the union of entries, entries with the same
 *   `url` merged with the union of their `methods` (omitted or empty on any → every method);
 *   `apiName` from the first map that has one.
 * Stages and URLs are merged independently (as Tyk does): a stage from one policy and a
 * URL from another are both allowed together.
 */
export function mergeAccessRights(maps: readonly Readonly<Record<string, AccessRight>>[]): Record<string, AccessRight> {
  if (maps.some((rights) => Object.keys(rights).length === 0)) return {};
  // A Map, not an object: an API id such as `__proto__` must stay an ordinary key.
  const merged = new Map<string, AccessRight>();
  for (const rights of maps) {
    for (const [apiId, right] of Object.entries(rights)) {
      const seen = merged.get(apiId);
      merged.set(apiId, seen === undefined ? right : mergeRight(seen, right));
    }
  }
  return Object.fromEntries(merged);
}

function mergeRight(a: AccessRight, b: AccessRight): AccessRight {
  const everyStage = (v: readonly string[] | undefined): boolean => !v || v.length === 0 || v.includes('Default');
  const versions = everyStage(a.versions) || everyStage(b.versions) ? undefined : union(a.versions!, b.versions!);
  const everyPath = (u: readonly AllowedUrl[] | undefined): boolean => !u || u.length === 0;
  const allowedUrls = everyPath(a.allowedUrls) || everyPath(b.allowedUrls) ? undefined : mergeUrls([...a.allowedUrls!, ...b.allowedUrls!]);
  const apiName = a.apiName ?? b.apiName;
  return {
    ...(apiName === undefined ? {} : { apiName }),
    ...(versions === undefined ? {} : { versions }),
    ...(allowedUrls === undefined ? {} : { allowedUrls }),
  };
}

function mergeUrls(entries: readonly AllowedUrl[]): AllowedUrl[] {
  const byUrl = new Map<string, AllowedUrl>();
  for (const entry of entries) {
    const seen = byUrl.get(entry.url);
    if (seen === undefined) {
      byUrl.set(entry.url, entry);
      continue;
    }
    const everyMethod = (m: readonly string[] | undefined): boolean => !m || m.length === 0;
    byUrl.set(
      entry.url,
      everyMethod(seen.methods) || everyMethod(entry.methods) ? { url: entry.url } : { url: entry.url, methods: union(seen.methods!, entry.methods!) },
    );
  }
  return [...byUrl.values()];
}

function union<T>(a: readonly T[], b: readonly T[]): T[] {
  return [...new Set([...a, ...b])];
}

/** The fields of a session created from policies: assignable to `SessionInput` and to `SessionFields`. */
export interface PolicySessionFields {
  expires: number;
  quotaMax: number;
  quotaRemaining: number;
  quotaRenewalRate: number;
  quotaRenews: number;
  rate: number;
  per: number;
  accessRights: Record<string, AccessRight>;
  applyPolicies: string[];
  metaData: Record<string, MetaValue>;
  tags: string[];
  isInactive: boolean;
}

/**
 * The session a JWT identity gets on first sight (SPEC §5), from the policies its token
 * names (all found — check `missing` first; at least one):
 * - limits and rights as {@link effectiveSettings} computes them, a full quota window
 *   opening now;
 * - `expires = now + the smallest non-zero keyExpiresIn`, or 0 when every policy says 0;
 * - `applyPolicies` = the policy ids, so later policy changes apply to the session;
 * - `tags` = the union; `metaData` merged, a later policy winning on a shared name;
 * - `isInactive` false: an inactive policy denies through {@link effectiveSettings} on
 *   every request, so reactivating the policy reactivates its sessions.
 *
 * @example
 * const fields = sessionFromPolicies(policies, now);
 * await store.create(jwtSessionPk(iss, sub), identity, fields, now);
 */
export function sessionFromPolicies(policies: readonly Policy[], now: number): PolicySessionFields {
  if (policies.length === 0) {
    // A session without policies would be unlimited: refuse instead (deny `no_matching_policy`).
    throw new GatepassError('ERR_VALIDATION', 'a session needs at least one policy');
  }
  const ids = [...new Set(policies.map((policy) => policy.id))];
  const settings = effectiveSettings({ rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0, accessRights: {}, applyPolicies: ids }, policies);
  const lifetimes = policies.map((policy) => policy.keyExpiresIn).filter((seconds) => seconds > 0);
  const { quotaMax, quotaRenewalRate } = settings.limits;
  return {
    expires: lifetimes.length > 0 ? now + Math.min(...lifetimes) : 0,
    ...settings.limits,
    quotaRemaining: quotaMax,
    quotaRenews: now + quotaRenewalRate, // as newSessionFields: shown even when the quota never renews
    accessRights: settings.accessRights,
    applyPolicies: ids,
    metaData: Object.assign({}, ...policies.map((policy) => policy.metaData)) as Record<string, MetaValue>,
    tags: [...new Set(policies.flatMap((policy) => policy.tags))],
    isInactive: false,
  };
}
