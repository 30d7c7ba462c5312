import { planCount, type CountPlan, type Counters } from '../limits/limits.ts';
import { countersOf } from '../limits/scope.ts';
import { GatepassError } from '../model/errors.ts';
import { rateWithoutPer } from '../model/limit-rules.ts';
import type { Reason } from '../model/reasons.ts';
import { isExpired } from '../model/session.ts';
import { effectiveSettings, limitsFor, type Policy, type PolicySettings } from '../policies/policy.ts';
import type { StoredSession } from '../store/item.ts';
import { checkAccessRights, type RequestTarget } from './access-rights.ts';
import { quotaRetryAfter } from './retry-after.ts';

/** The checks, in the order they run (Tyk's order, after the policies are resolved). */
export const CHECKS = ['policies', 'inactive', 'expiry', 'access_rights', 'rate_limit', 'quota'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface DecideInput {
  /** The session's settings (and, when `countersKnown`, its counters). */
  readonly session: StoredSession;
  /**
   * Whether the session's counters are known (a consistent read, or the item a write
   * returned) or not (settings remembered by this instance: counters are never remembered).
   */
  readonly countersKnown: boolean;
  /** The policies named by `applyPolicies` that exist (a missing one denies). */
  readonly policies: readonly Policy[];
  readonly target: RequestTarget;
  /** Epoch milliseconds. */
  readonly nowMs: number;
  /**
   * API Gateway caches Allows (`resultsCacheTtl > 0`) for the caller's other routes, so an
   * Allow that holds for this route only (URL or method rights) must be refused. @default false
   */
  readonly resultsCached?: boolean;
}

/** Where a request's limits and counters come from (see `limitsFor`). */
export type Governing = ReturnType<typeof limitsFor>;

export type Verdict =
  | {
      readonly allow: true;
      /** What to count; `rate` and `quota` both `none` when the request counts nothing. */
      readonly plan: CountPlan;
      readonly governing: Governing;
      readonly effective: PolicySettings;
    }
  | {
      readonly allow: false;
      readonly reason: Reason;
      readonly check: CheckName;
      /** Extra context of the denial (`retryAfter`, `quotaRenews`, `expires`). */
      readonly context: Readonly<Record<string, number>>;
      readonly effective: PolicySettings;
    };

/**
 * THE decision: the one function that judges a request, used by the authorizer's pipeline
 * and by the admin API's `explain`, so that the two can never disagree. Pure: it reads
 * nothing and writes nothing. Checks, in order: a policy named but missing → inactive (the
 * key or any policy) → session expiry → access rights (API, stage, URL and method) → rate
 * limit → quota. An Allow carries the plan of what to count; the caller's conditional
 * write makes the plan's assumptions hold, or fails and the request is decided again.
 *
 * @example
 * const verdict = decide({ session: item, countersKnown: true, policies, target, nowMs: Date.now() });
 * if (!verdict.allow) return deny(verdict.reason, verdict.context);
 */
export function decide(input: DecideInput): Verdict {
  const { session, target, nowMs } = input;
  checkItem(session);
  const effective = effectiveSettings(session, input.policies);
  const denial = (reason: Reason, check: CheckName, context: Record<string, number> = {}): Verdict => ({
    allow: false,
    reason,
    check,
    context,
    effective,
  });

  if (effective.missing.length > 0 || effective.conflicting.length > 0) return denial('no_matching_policy', 'policies');
  if (effective.inactive) return denial('key_inactive', 'inactive');
  if (isExpired(session.expires, Math.floor(nowMs / 1000))) return denial('session_expired', 'expiry', { expires: session.expires });
  const access = checkAccessRights(effective.accessRights, target);
  if (access !== 'allowed') return denial(access, 'access_rights');
  if (input.resultsCached && isRouteScoped(effective.accessRights, target.apiId))
    return denial('url_rights_not_cacheable', 'access_rights');

  const governing = limitsFor(effective, target.apiId);
  if (rateWithoutPer(governing.limits.rate, governing.limits.per)) {
    // Stored before the rule was checked, or written around it: never an unlimited key.
    throw new GatepassError('ERR_STORE', `session ${session.pk} has a rate limit without a window (per): failing closed`);
  }
  const counters: Counters | undefined = input.countersKnown ? countersOf(session, governing.scope) : undefined;
  const verdict = planCount(governing.limits, counters, nowMs);
  if (verdict.kind === 'rate_limited') return denial('rate_limited', 'rate_limit', { retryAfter: verdict.retryAfter });
  if (verdict.kind === 'quota_exceeded') {
    return denial('quota_exceeded', 'quota', {
      quotaRenews: verdict.quotaRenews,
      ...quotaRetryAfter(governing.limits, verdict.quotaRenews, nowMs),
    });
  }
  return { allow: true, plan: verdict.plan, governing, effective };
}

/**
 * A session item that cannot be judged (a field missing or of the wrong type: a hand-written
 * item, a partial restore) is a fault, never an unlimited key: fail closed.
 */
function checkItem(session: StoredSession): void {
  const numbers = ['expires', 'quotaMax', 'quotaRenewalRate', 'rate', 'per', 'version'] as const;
  const bad = numbers.filter((field) => typeof session[field] !== 'number');
  if (typeof session.isInactive !== 'boolean') bad.push('isInactive' as never);
  if (session.accessRights === null || typeof session.accessRights !== 'object') bad.push('accessRights' as never);
  if (!Array.isArray(session.applyPolicies)) bad.push('applyPolicies' as never);
  if (bad.length > 0)
    throw new GatepassError('ERR_STORE', `session item ${session.pk} cannot be judged: ${bad.join(', ')} missing or malformed`);
}

/** The Allow would hold for this route only: the key's rights restrict URLs or methods of this API. */
function isRouteScoped(rights: PolicySettings['accessRights'], apiId: string): boolean {
  const right = Object.hasOwn(rights, apiId) ? rights[apiId] : undefined;
  return right !== undefined && (right.allowedUrls?.length ?? 0) > 0;
}
