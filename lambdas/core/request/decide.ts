import { planCount, type CountPlan, type Counters, type LimitVerdict } from '../limits/limits.ts';
import { countersOf } from '../limits/scope.ts';
import { GatepassError } from '../model/errors.ts';
import { rateWithoutPer } from '../model/limit-rules.ts';
import type { Reason } from '../model/reasons.ts';
import { isExpired } from '../model/session-rules.ts';
import { effectiveSettings, limitsFor, type PolicySettings } from '../policies/effective.ts';
import type { Policy } from '../policies/policy.ts';
import type { StoredSession } from '../store/item.ts';
import { checkAccessRights, type RequestTarget } from './access-rights.ts';

/** The checks, in the order they run (Tyk's order, after the policies are resolved). */
export const CHECKS = ['policies', 'inactive', 'expiry', 'access_rights', 'rate_limit', 'quota'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface DecideInput {
  /** The session's settings (and, when `countersKnown`, its counters). */
  readonly session: StoredSession;
  /**
   * Whether the session's counters are known (a consistent read, or the item a write
   * returned) or not (settings remembered by this instance, or just written by a hook).
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

/**
 * One check as `decide` ran it: `pass`, `fail` (the first failure decides), or `skip` (after
 * the first failure; `wouldPass` says what it would have found on its own).
 */
export interface CheckTrace {
  readonly check: CheckName;
  readonly outcome: 'pass' | 'fail' | 'skip';
  readonly wouldPass: boolean;
  /** For access rights, the reason it fails with. */
  readonly reason?: Reason;
  /** For the rate limit and quota: the limit verdict on its own (the counting step, or when it frees up). */
  readonly limit?: LimitVerdict;
}

/** What every verdict carries: the checks as run, the merged settings, the limits and counters that governed. */
interface Traced {
  readonly trace: readonly CheckTrace[];
  readonly effective: PolicySettings;
  readonly governing: Governing;
  /** The governing scope's counters, when known. */
  readonly counters: Counters | undefined;
}

export type Verdict =
  | (Traced & {
      readonly allow: true;
      /** What to count; `rate` and `quota` both `none` when the request counts nothing. */
      readonly plan: CountPlan;
    })
  | (Traced & {
      readonly allow: false;
      readonly reason: Reason;
      readonly check: CheckName;
      /** Extra context of the denial (`retryAfter`, `quotaRenews`, `expires`). */
      readonly context: Readonly<Record<string, number>>;
    });

/**
 * THE decision: the one function that judges a request, used by the authorizer's pipeline
 * and by the admin API's `explain` (which only formats its trace), so that the two can never
 * disagree. Pure: it reads nothing and writes nothing. Checks, in order: a policy named but
 * missing → inactive (the key or any policy) → session expiry → access rights (API, stage,
 * URL and method; and route-scoped rights under result caching) → rate limit → quota. An
 * Allow carries the plan of what to count; the caller's conditional write makes the plan's
 * assumptions hold, or fails and the request is decided again.
 *
 * @example
 * const verdict = decide({ session: item, countersKnown: true, policies, target, nowMs: Date.now() });
 * if (!verdict.allow) return deny(verdict.reason, verdict.context);
 */
export function decide(input: DecideInput): Verdict {
  const { session, target, nowMs } = input;
  checkItem(session);
  const effective = effectiveSettings(session, input.policies);
  const governing = limitsFor(effective, target.apiId);
  if (rateWithoutPer(governing.limits.rate, governing.limits.per)) {
    // Stored before the rule was checked, or written around it: never an unlimited key.
    throw new GatepassError('ERR_STORE', `session ${session.pk} has a rate limit without a window (per): failing closed`);
  }
  const counters = input.countersKnown ? countersOf(session, governing.scope) : undefined;
  const access = checkAccessRights(effective.accessRights, target);
  const uncacheable = input.resultsCached === true && isRouteScoped(effective.accessRights, target.apiId);
  const rate = planCount({ ...governing.limits, quotaMax: -1 }, counters, nowMs);
  const quota = planCount({ ...governing.limits, rate: 0, per: 0 }, counters, nowMs);

  const results: Record<CheckName, { pass: boolean; reason?: Reason; limit?: LimitVerdict }> = {
    policies: { pass: effective.missing.length === 0 && effective.conflicting.length === 0 },
    inactive: { pass: !effective.inactive },
    expiry: { pass: !isExpired(session.expires, Math.floor(nowMs / 1000)) },
    access_rights:
      access !== 'allowed'
        ? { pass: false, reason: access }
        : uncacheable
          ? { pass: false, reason: 'url_rights_not_cacheable' }
          : { pass: true },
    rate_limit: { pass: rate.kind === 'count', limit: rate },
    quota: { pass: quota.kind === 'count', limit: quota },
  };
  const failed = CHECKS.find((check) => !results[check].pass);
  const failedAt = failed === undefined ? CHECKS.length : CHECKS.indexOf(failed);
  const trace = CHECKS.map((check, index): CheckTrace => {
    const { pass, reason, limit } = results[check];
    const outcome = index < failedAt ? 'pass' : index === failedAt ? 'fail' : 'skip';
    return { check, outcome, wouldPass: pass, ...(reason === undefined ? {} : { reason }), ...(limit === undefined ? {} : { limit }) };
  });
  const traced = { trace, effective, governing, counters };

  if (failed === undefined) {
    const plan = {
      limits: governing.limits,
      rate: rate.kind === 'count' ? rate.plan.rate : 'none',
      quota: quota.kind === 'count' ? quota.plan.quota : 'none',
      nowMs,
    } satisfies CountPlan;
    return { allow: true, plan, ...traced };
  }
  const denial = (reason: Reason, context: Record<string, number> = {}): Verdict => ({
    allow: false,
    reason,
    check: failed,
    context,
    ...traced,
  });
  switch (failed) {
    case 'policies':
      return denial('no_matching_policy');
    case 'inactive':
      return denial('key_inactive');
    case 'expiry':
      return denial('session_expired', { expires: session.expires });
    case 'access_rights':
      return denial(results.access_rights.reason!);
    case 'rate_limit':
      return denial('rate_limited', { retryAfter: (rate as Extract<LimitVerdict, { kind: 'rate_limited' }>).retryAfter });
    case 'quota': {
      const over = quota as Extract<LimitVerdict, { kind: 'quota_exceeded' }>;
      return denial('quota_exceeded', {
        quotaRenews: over.quotaRenews,
        ...(over.retryAfter === undefined ? {} : { retryAfter: over.retryAfter }),
      });
    }
  }
}

/**
 * A session item that cannot be judged (a field missing or of the wrong type: a hand-written
 * item, a partial restore) is a fault, never an unlimited key: fail closed.
 */
function checkItem(session: StoredSession): void {
  const numbers = ['expires', 'quotaMax', 'quotaRenewalRate', 'rate', 'per', 'version'] as const;
  const bad: string[] = numbers.filter((field) => typeof session[field] !== 'number');
  if (typeof session.isInactive !== 'boolean') bad.push('isInactive');
  if (session.accessRights === null || typeof session.accessRights !== 'object') bad.push('accessRights');
  if (!Array.isArray(session.applyPolicies)) bad.push('applyPolicies');
  if (bad.length > 0)
    throw new GatepassError('ERR_STORE', `session item ${session.pk} cannot be judged: ${bad.join(', ')} missing or malformed`);
}

/** The Allow would hold for this route only: the key's rights restrict URLs or methods of this API. */
function isRouteScoped(rights: PolicySettings['accessRights'], apiId: string): boolean {
  const right = Object.hasOwn(rights, apiId) ? rights[apiId] : undefined;
  return right !== undefined && (right.allowedUrls?.length ?? 0) > 0;
}
