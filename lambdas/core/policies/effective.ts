import type { Limits } from '../limits/limits.ts';
import type { CounterScope } from '../limits/scope.ts';
import type { AccessRight, ApiLimit } from '../model/session.ts';
import { mergeAccessRights, mergeLimits, setsAnyLimit, type AclRight } from './merge.ts';

/**
 * The settings a session is checked against: its own, or its policies' merged as Tyk's
 * `internal/policy/apply.go` merges them (partitions and per-API limits included).
 */

/** Which parts of a policy take part in a merge (Tyk's `partitions`). */
export interface Partitions {
  readonly quota?: boolean;
  readonly rateLimit?: boolean;
  readonly acl?: boolean;
  /** Each listed API gets limits of its own, counted apart; cannot be combined with the others. */
  readonly perApi?: boolean;
}

/** What a policy contributes to {@link effectiveSettings} (a stored `Policy` is one). */
export interface MergedPolicy extends ApiLimit {
  readonly id: string;
  readonly accessRights: Readonly<Record<string, AccessRight>>;
  readonly isInactive: boolean;
  readonly partitions?: Partitions;
}

/** What a session contributes to {@link effectiveSettings}. */
export interface PolicySubject {
  readonly rate: number;
  readonly per: number;
  readonly quotaMax: number;
  readonly quotaRenewalRate: number;
  readonly accessRights: Readonly<Record<string, AccessRight>>;
  readonly applyPolicies: readonly string[];
  /** The key's own switch: true denies every request, whatever its policies say. */
  readonly isInactive: boolean;
}

/** An access right as enforced: an API limit, when there is one, with every field set. */
export type EffectiveAccessRight = AclRight & { readonly limit?: Limits };

/** The settings a session's checks run against. */
export interface PolicySettings {
  /** The key's limits: they govern every API without a limit of its own (see {@link limitsFor}). */
  readonly limits: Limits;
  readonly accessRights: Record<string, EffectiveAccessRight>;
  /** The key or some applied policy is inactive (or a policy is missing or conflicting): every request is denied. */
  readonly inactive: boolean;
  /**
   * Ids in `applyPolicies` with no policy. Non-empty means the other fields are NOT safe
   * to enforce: the caller must deny (`no_matching_policy`), and check this before
   * `inactive` so that the denial names the right reason.
   */
  readonly missing: string[];
  /**
   * Ids of applied policies that cannot be applied together: per-API policies
   * (`partitions.perApi`) with partitioned ones, which Tyk refuses to apply ("cannot apply
   * multiple policies when some have per_api set and some are partitioned"). Non-empty:
   * deny as for `missing` (`inactive` is also true, so a caller that forgets still denies).
   */
  readonly conflicting: string[];
}

/**
 * The settings a session is checked against (Tyk's rules):
 * - no `applyPolicies`: the session's own limits, rights and API limits;
 * - otherwise each part — rate limit, quota, access rights — comes from the policies that
 *   take part in it: every policy without partitions, and the partitioned ones whose
 *   `partitions` name that part (a per-API policy takes part in all three but sets only
 *   API limits). A part no applied policy takes part in stays the session's own. Limits
 *   merge as {@link mergeLimits}, rights as {@link mergeAccessRights}.
 * - an API listed by a per-API policy gets a limit of its own: the API's `limit` in that
 *   policy, else the policy's limits, merged with the limits of every other policy listing
 *   the API;
 * - inactive when the key is (`isInactive` is the key's own switch: it denies even when
 *   its policies are active), when any applied policy is, or when one is missing.
 * Duplicate ids count once; `policies` not named by `applyPolicies` are ignored.
 *
 * @example
 * const s = effectiveSettings(session, policies);
 * if (s.missing.length > 0 || s.conflicting.length > 0) return deny('no_matching_policy');
 */
export function effectiveSettings(subject: PolicySubject, policies: readonly MergedPolicy[]): PolicySettings {
  const own = { rate: subject.rate, per: subject.per, quotaMax: subject.quotaMax, quotaRenewalRate: subject.quotaRenewalRate };
  const ids = [...new Set(subject.applyPolicies)];
  if (ids.length === 0) {
    return { limits: own, accessRights: enforced(subject.accessRights), inactive: subject.isInactive, missing: [], conflicting: [] };
  }
  const byId = new Map(policies.map((policy) => [policy.id, policy]));
  const applied = ids.flatMap((id) => byId.get(id) ?? []);
  const missing = ids.filter((id) => !byId.has(id));
  if (applied.length === 0) {
    // Nothing to enforce; `missing` tells the caller to deny. Inactive with a zero quota,
    // so that a caller ignoring `missing` still denies.
    return { limits: { rate: 0, per: 0, quotaMax: 0, quotaRenewalRate: 0 }, accessRights: {}, inactive: true, missing, conflicting: [] };
  }
  const perApi = applied.filter((policy) => policy.partitions?.perApi === true);
  const partitioned = applied.filter(isPartitioned);
  const conflicting = perApi.length > 0 && partitioned.length > 0 ? [...perApi, ...partitioned].map((policy) => policy.id) : [];

  const rate = applied.filter((policy) => takesPart(policy, 'rateLimit'));
  const quota = applied.filter((policy) => takesPart(policy, 'quota'));
  const acl = applied.filter((policy) => takesPart(policy, 'acl'));
  const limitsOf = (taking: readonly MergedPolicy[]): Limits => mergeLimits(taking.filter((policy) => !policy.partitions?.perApi));
  const rateLimits = rate.length > 0 ? limitsOf(rate) : own;
  const quotaLimits = quota.length > 0 ? limitsOf(quota) : own;
  const limits = {
    rate: rateLimits.rate,
    per: rateLimits.per,
    quotaMax: quotaLimits.quotaMax,
    quotaRenewalRate: quotaLimits.quotaRenewalRate,
  };
  return {
    limits,
    accessRights:
      acl.length > 0
        ? withApiLimits(mergeAccessRights(acl.map((policy) => policy.accessRights)), perApi, applied)
        : enforced(subject.accessRights),
    // A missing or conflicting policy also makes the session inactive, so a caller that
    // forgets to look at `missing` or `conflicting` still denies (fail closed).
    inactive: subject.isInactive || missing.length > 0 || conflicting.length > 0 || applied.some((policy) => policy.isInactive),
    missing,
    conflicting,
  };
}

/**
 * The limits that govern a request to `apiId`, and where it is counted: the API's own
 * limit in its own scope when the effective rights give it one, else the key's limits in
 * the key's scope.
 *
 * @example
 * limitsFor(effectiveSettings(session, policies), 'payments'); // { limits: {…}, scope: { apiId: 'payments' } }
 */
export function limitsFor(settings: PolicySettings, apiId: string): { readonly limits: Limits; readonly scope: CounterScope } {
  const limit = Object.hasOwn(settings.accessRights, apiId) ? settings.accessRights[apiId]!.limit : undefined;
  return limit === undefined ? { limits: settings.limits, scope: 'key' } : { limits: limit, scope: { apiId } };
}

function isPartitioned(policy: MergedPolicy): boolean {
  const p = policy.partitions;
  return p?.quota === true || p?.rateLimit === true || p?.acl === true;
}

/** Whether a policy takes part in a merge for `part` (every part, unless it is partitioned). */
export function takesPart(policy: MergedPolicy, part: 'quota' | 'rateLimit' | 'acl'): boolean {
  return !isPartitioned(policy) || policy.partitions?.[part] === true;
}

/** Rights with the limits of the APIs that per-API policies list (limits of other policies listing them merged in). */
function withApiLimits(
  rights: Record<string, AclRight>,
  perApi: readonly MergedPolicy[],
  applied: readonly MergedPolicy[],
): Record<string, EffectiveAccessRight> {
  const out = new Map<string, EffectiveAccessRight>(Object.entries(rights));
  const apis = new Set(perApi.flatMap((policy) => Object.keys(policy.accessRights)));
  for (const apiId of apis) {
    const right = out.get(apiId);
    if (right === undefined) continue;
    const contributions = applied.flatMap((policy): ApiLimit[] => {
      if (!Object.hasOwn(policy.accessRights, apiId)) return [];
      const apiLimit = policy.accessRights[apiId]!.limit;
      if (policy.partitions?.perApi === true && setsAnyLimit(apiLimit)) return [apiLimit];
      return isPartitioned(policy) ? [] : [policyLimits(policy)];
    });
    out.set(apiId, { ...right, limit: mergeLimits(contributions) });
  }
  return Object.fromEntries(out);
}

function policyLimits(policy: MergedPolicy): ApiLimit {
  const { rate, per, quotaMax, quotaRenewalRate } = policy;
  return { rate, per, quotaMax, quotaRenewalRate };
}

/** A session's own rights as enforced: an API limit that sets anything gets every field. */
function enforced(rights: Readonly<Record<string, AccessRight>>): Record<string, EffectiveAccessRight> {
  const out = new Map<string, EffectiveAccessRight>();
  for (const [apiId, { limit, ...right }] of Object.entries(rights)) {
    out.set(apiId, setsAnyLimit(limit) ? { ...right, limit: mergeLimits([limit]) } : right);
  }
  return Object.fromEntries(out);
}
