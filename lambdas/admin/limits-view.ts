import { quotaRemaining, quotaRenews, type Limits } from '../core/limits/limits.ts';
import { countersOf, type CounterScope } from '../core/limits/scope.ts';
import { effectiveSettings, limitsFor, type MergedPolicy, type PolicySettings } from '../core/policies/policy.ts';
import type { Session } from '../core/model/session.ts';
import type { StoredSession } from '../core/store/item.ts';

/**
 * The limits in force for a key, as the admin API shows them next to its own fields: what
 * its requests are checked against once its policies are applied (README, "Policies"), each
 * value with where it comes from. A key's own `quotaMax` may say 500 while its policy gives
 * 10000: the session shows the first, `limits` the second.
 */

/** Where a limit comes from: the key's own fields, a policy, or an API's own `limit` in the key's access rights. */
export type LimitSource = 'key' | `policy:${string}` | `api:${string}`;

/** One value in force and its source. */
export interface LimitInForce {
  readonly value: number;
  readonly source: LimitSource;
}

/** The limits of one counting scope (the key's, or an API's own) and its quota counter read under them. */
export interface ScopeLimits {
  readonly rate: LimitInForce;
  readonly per: LimitInForce;
  /** -1 = unlimited, 0 = none. */
  readonly quotaMax: LimitInForce;
  /** 0 = the quota never renews. */
  readonly quotaRenewalRate: LimitInForce;
  /** Left in the current window (-1 when unlimited), under `quotaMax` in force. */
  readonly quotaRemaining: LimitInForce;
  /** When the current window ends (epoch s; 0 before the first window). */
  readonly quotaRenews: LimitInForce;
}

/** The read-only `limits` object of a key in the admin API's answers. */
export interface LimitsView extends ScopeLimits {
  /** APIs with limits of their own, counted apart from the key's. Absent when there are none. */
  readonly apis?: Readonly<Record<string, ScopeLimits>>;
  /**
   * Policies the key names that do not exist, or cannot be applied together: every request
   * is then denied (`no_matching_policy`), whatever the values above say. Absent when none.
   */
  readonly unenforceablePolicies?: readonly string[];
}

/** A public session with its limits in force: what `GET /keys/{keyId}` answers. */
export type SessionWithLimits = Session & { readonly limits: LimitsView };

type Part = 'rate' | 'quotaMax' | 'quotaRenewalRate';

/**
 * The limits in force for a stored key at `nowMs` (epoch ms), with their sources, computed by
 * the authorizer's own functions (`effectiveSettings`, `limitsFor`, `quotaRemaining`).
 * `policies` are the key's policies as read (those it names that exist).
 *
 * @example
 * limitsInForce(item, [gold], Date.now()).quotaMax; // { value: 10000, source: 'policy:gold' }
 */
export function limitsInForce(item: StoredSession, policies: readonly MergedPolicy[], nowMs: number): LimitsView {
  const settings = effectiveSettings(item, policies);
  const applied = appliedPolicies(item, policies);
  const own = scopeLimits(item, settings, 'key', nowMs, (part) => keySource(item, applied, settings.limits, part));

  const apis: Record<string, ScopeLimits> = {};
  for (const [apiId, right] of Object.entries(settings.accessRights)) {
    if (right.limit === undefined) continue;
    apis[apiId] = scopeLimits(item, settings, { apiId }, nowMs, (part) => apiSource(apiId, applied, right.limit!, part));
  }
  const unenforceable = [...settings.missing, ...settings.conflicting];
  return {
    ...own,
    ...(Object.keys(apis).length > 0 ? { apis } : {}),
    ...(unenforceable.length > 0 ? { unenforceablePolicies: unenforceable } : {}),
  };
}

/** The public session with its `limits` added. */
export function withLimits(session: Session, item: StoredSession, policies: readonly MergedPolicy[], nowMs: number): SessionWithLimits {
  return { ...session, limits: limitsInForce(item, policies, nowMs) };
}

function scopeLimits(
  item: StoredSession,
  settings: PolicySettings,
  scope: CounterScope,
  nowMs: number,
  sourceOf: (part: Part) => LimitSource,
): ScopeLimits {
  const limits = scope === 'key' ? settings.limits : limitsFor(settings, scope.apiId).limits;
  const counters = countersOf(item, scope);
  const rate = sourceOf('rate');
  const quota = sourceOf('quotaMax');
  return {
    rate: { value: limits.rate, source: rate },
    per: { value: limits.per, source: rate },
    quotaMax: { value: limits.quotaMax, source: quota },
    quotaRenewalRate: { value: limits.quotaRenewalRate, source: sourceOf('quotaRenewalRate') },
    quotaRemaining: { value: quotaRemaining(limits, counters, nowMs), source: quota },
    quotaRenews: { value: quotaRenews(limits, counters), source: quota },
  };
}

/** The key's policies that exist, in the order it names them, each once. */
function appliedPolicies(item: StoredSession, policies: readonly MergedPolicy[]): MergedPolicy[] {
  const byId = new Map(policies.map((policy) => [policy.id, policy]));
  return [...new Set(item.applyPolicies ?? [])].flatMap((id) => byId.get(id) ?? []);
}

/**
 * The source of one part of the key's own limits. Whether a policy takes part in a part
 * (partitions) is asked of `effectiveSettings` itself: applied alone to a subject whose own
 * limits are NaN, a policy leaves NaN in every part it takes no part in. Among the policies
 * that take part, the source is the first that sets the value in force; when none sets it
 * (the merge's default: no rate limit, unlimited), the first that takes part.
 */
function keySource(item: StoredSession, applied: readonly MergedPolicy[], inForce: Limits, part: Part): LimitSource {
  const unknown = { ...item, rate: Number.NaN, per: Number.NaN, quotaMax: Number.NaN, quotaRenewalRate: Number.NaN };
  const taking = applied.filter((policy) => {
    const alone = effectiveSettings({ ...unknown, applyPolicies: [policy.id] }, [policy]).limits;
    return !Number.isNaN(alone[part]);
  });
  if (taking.length === 0) return 'key';
  const setter = taking.find((policy) => sets(policy, inForce, part));
  return `policy:${(setter ?? taking[0]!).id}`;
}

/**
 * The source of one part of an API's own limits: `api:<apiId>` when no per-API policy lists
 * the API (the limit is the key's own), else the first policy listing it whose API limit, or
 * own limits, set the value in force (else the first policy listing it).
 */
function apiSource(apiId: string, applied: readonly MergedPolicy[], inForce: Limits, part: Part): LimitSource {
  const listing = applied.filter((policy) => Object.hasOwn(policy.accessRights, apiId));
  if (!listing.some((policy) => policy.partitions?.perApi === true)) return `api:${apiId}`;
  const setter = listing.find((policy) => {
    const apiLimit = policy.accessRights[apiId]!.limit;
    return (apiLimit !== undefined && sets(apiLimit, inForce, part)) || sets(policy, inForce, part);
  });
  return `policy:${(setter ?? listing[0]!).id}`;
}

/** True when `limit` sets the value in force for `part` (a rate limit as its rate and window together). */
function sets(limit: { rate?: number; per?: number; quotaMax?: number; quotaRenewalRate?: number }, inForce: Limits, part: Part): boolean {
  if (part === 'rate') return limit.rate === inForce.rate && (inForce.rate === 0 || limit.per === inForce.per);
  return limit[part] === inForce[part];
}
