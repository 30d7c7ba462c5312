import { planCount, quotaRemaining, rateRemaining, type Counters, type Limits } from '../limits/limits.ts';
import { countersOf, scopeName } from '../limits/scope.ts';
import { REASONS, type Reason } from '../model/reasons.ts';
import { isExpired, type AccessRight } from '../model/session.ts';
import type { Policy } from '../policies/policy.ts';
import type { StoredSession } from '../store/item.ts';
import { checkAccessRights, type RequestTarget } from './access-rights.ts';
import { limitsFor } from '../policies/policy.ts';
import { CHECKS, decide, type CheckName } from './decide.ts';

/** `skip`: not reached, because an earlier check denied first. */
export type CheckOutcome = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly check: CheckName;
  readonly outcome: CheckOutcome;
  /** What the check found, for people; a skipped check says what it would have found. */
  readonly detail: string;
}

export interface Explanation {
  readonly decision: 'allow' | 'deny';
  readonly reason?: Reason;
  readonly message?: string;
  readonly checks: CheckResult[];
  readonly effective: {
    readonly limits: Limits;
    readonly accessRights: Record<string, AccessRight>;
    /** The policies in `applyPolicies`: found, missing, and which of those found are inactive. */
    readonly policies: { readonly applied: string[]; readonly missing: string[]; readonly inactive: string[] };
  };
}

/**
 * The decision the authorizer would reach for `target` at `atMs`, without writing anything:
 * a dry run for operators ("why is this key denied?"). The decision is {@link decide}'s —
 * the function the authorizer runs — so the two cannot disagree; this adds, for each check,
 * what it found (checks after the first failure say what they would have found).
 *
 * @example
 * const why = explainDecision(item, policies, { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' }, Date.now());
 * why.checks.find((c) => c.outcome === 'fail'); // { check: 'quota', outcome: 'fail', detail: 'quota of 100 used up; renews at …' }
 */
export function explainDecision(session: StoredSession, policies: readonly Policy[], target: RequestTarget, atMs: number): Explanation {
  const verdict = decide({ session, countersKnown: true, policies, target, nowMs: atMs });
  const settings = verdict.effective;
  const ids = [...new Set(session.applyPolicies ?? [])];
  const applied = policies.filter((policy) => ids.includes(policy.id));
  const inactivePolicies = applied.filter((policy) => policy.isInactive).map((policy) => policy.id);
  const effective = {
    limits: settings.limits,
    accessRights: settings.accessRights,
    policies: { applied: applied.map((policy) => policy.id), missing: settings.missing, inactive: inactivePolicies },
  };

  const { limits, scope } = limitsFor(settings, target.apiId);
  const counters = countersOf(session, scope);
  const where = scope === 'key' ? '' : ` (${scopeName(scope)}'s own limit)`;
  const details: Record<CheckName, string> = {
    policies:
      settings.missing.length > 0
        ? `applyPolicies names missing policies (${settings.missing.join(', ')})`
        : settings.conflicting.length > 0
          ? `policies that cannot apply together (per-API with partitioned): ${settings.conflicting.join(', ')}`
          : `policies: ${ids.join(', ') || 'none'}`,
    inactive: session.isInactive
      ? 'the key is inactive (isInactive)'
      : inactivePolicies.length > 0
        ? `inactive policies: ${inactivePolicies.join(', ')}`
        : 'the key is active',
    expiry: expiryDetail(session.expires, Math.floor(atMs / 1000)),
    access_rights: accessDetail(settings.accessRights, target),
    rate_limit: rateDetail(limits, counters, atMs) + where,
    quota: quotaDetail(limits, counters, atMs) + where,
  };
  // For checks after the first failure: whether each would pass on its own (for people only).
  const wouldPass: Record<CheckName, boolean> = {
    policies: settings.missing.length === 0 && settings.conflicting.length === 0,
    inactive: !session.isInactive && !settings.inactive,
    expiry: !isExpired(session.expires, Math.floor(atMs / 1000)),
    access_rights: checkAccessRights(settings.accessRights, target) === 'allowed',
    rate_limit: planCount({ ...limits, quotaMax: -1 }, counters, atMs).kind === 'count',
    quota: planCount({ ...limits, rate: 0, per: 0 }, counters, atMs).kind === 'count',
  };

  const failed = verdict.allow ? undefined : verdict.check;
  const failedAt = failed === undefined ? CHECKS.length : CHECKS.indexOf(failed);
  const checks = CHECKS.map((check, index): CheckResult => {
    if (index < failedAt) return { check, outcome: 'pass', detail: details[check] };
    if (index === failedAt) return { check, outcome: 'fail', detail: details[check] };
    return { check, outcome: 'skip', detail: `not reached (would ${wouldPass[check] ? 'pass' : 'fail'}: ${details[check]})` };
  });
  const decision = verdict.allow
    ? { decision: 'allow' as const }
    : { decision: 'deny' as const, reason: verdict.reason, message: REASONS[verdict.reason] };
  return { ...decision, checks, effective };
}

function expiryDetail(expires: number, now: number): string {
  if (expires === 0) return 'never expires';
  const at = new Date(expires * 1000).toISOString();
  return isExpired(expires, now) ? `expired at ${at} (${now - expires} s ago)` : `expires at ${at} (in ${expires - now} s)`;
}

function accessDetail(rights: Readonly<Record<string, AccessRight>>, target: RequestTarget): string {
  const where = `${target.method.toUpperCase()} ${target.path} on API ${target.apiId}, stage ${target.stage}`;
  const verdict = checkAccessRights(rights, target);
  if (verdict === 'allowed') return Object.keys(rights).length === 0 ? 'every API allowed' : `${where} allowed`;
  if (verdict === 'url_not_allowed')
    return `no allowedUrls entry of API ${target.apiId} allows ${target.method.toUpperCase()} ${target.path}`;
  return Object.hasOwn(rights, target.apiId)
    ? `stage ${target.stage} is not in the versions of API ${target.apiId}`
    : `API ${target.apiId} is not in the access rights`;
}

function rateDetail(limits: Limits, counters: Counters, atMs: number): string {
  if (limits.rate === 0) return 'no rate limit';
  const limit = `${limits.rate} per ${limits.per} s`;
  const plan = planCount({ ...limits, quotaMax: -1 }, counters, atMs);
  if (plan.kind === 'rate_limited') return `rate limit of ${limit} reached; the window resets in ${plan.retryAfter} s`;
  if (plan.kind === 'count' && plan.plan.rate === 'open') return `a new window of ${limit} would open`;
  return `${rateRemaining(limits, counters, atMs)} of ${limit} left in the current window`;
}

function quotaDetail(limits: Limits, counters: Counters, atMs: number): string {
  if (limits.quotaMax === -1) return 'unlimited quota';
  if (limits.quotaMax === 0) return 'quotaMax is 0: no requests allowed';
  const renews = limits.quotaRenewalRate > 0 ? `renews at ${new Date((counters.quotaRenews ?? 0) * 1000).toISOString()}` : 'never renews';
  const plan = planCount({ ...limits, rate: 0, per: 0 }, counters, atMs);
  if (plan.kind === 'quota_exceeded') return `quota of ${limits.quotaMax} used up; ${renews}`;
  if (plan.kind === 'count' && plan.plan.quota === 'open') return `a new quota window of ${limits.quotaMax} requests would open`;
  return `${quotaRemaining(limits, counters, Math.floor(atMs / 1000))} of ${limits.quotaMax} requests left; ${renews}`;
}
