import { quotaRemaining, quotaRenews, rateRemaining, type Counters, type Limits } from '../limits/limits.ts';
import { scopeName } from '../limits/scope.ts';
import { REASONS, type Reason } from '../model/reasons.ts';
import type { AccessRight } from '../model/session.ts';
import { isExpired } from '../model/session-rules.ts';
import type { Policy } from '../policies/policy.ts';
import type { StoredSession } from '../store/item.ts';
import type { RequestTarget } from './access-rights.ts';
import { decide, type CheckName, type CheckTrace, type DecideInput, type Verdict } from './decide.ts';

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

/** What the authorizer would pass to `decide` for this dry run, besides the session, policies, target and time. */
export interface ExplainOptions {
  /** The authorizer's result caching (`resultsCacheTtl > 0`). @default false */
  readonly resultsCached?: boolean;
}

/**
 * The decision the authorizer would reach for `target` at `atMs`, without writing anything:
 * a dry run for operators ("why is this key denied?"). It calls {@link decide} — the function
 * the authorizer runs — with the inputs the authorizer gives it (a current item, result
 * caching as configured), and only formats the trace `decide` returns, so the two cannot
 * disagree.
 *
 * @example
 * const why = explainDecision(item, policies, { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' }, Date.now());
 * why.checks.find((c) => c.outcome === 'fail'); // { check: 'quota', outcome: 'fail', detail: 'quota of 100 used up; renews at …' }
 */
export function explainDecision(
  session: StoredSession,
  policies: readonly Policy[],
  target: RequestTarget,
  atMs: number,
  options: ExplainOptions = {},
): Explanation {
  const input: DecideInput = { session, countersKnown: true, policies, target, nowMs: atMs, resultsCached: options.resultsCached ?? false };
  const verdict = decide(input);
  const settings = verdict.effective;
  const ids = [...new Set(session.applyPolicies ?? [])];
  const applied = policies.filter((policy) => ids.includes(policy.id));
  const inactivePolicies = applied.filter((policy) => policy.isInactive).map((policy) => policy.id);
  const effective = {
    limits: settings.limits,
    accessRights: settings.accessRights,
    policies: { applied: applied.map((policy) => policy.id), missing: settings.missing, inactive: inactivePolicies },
  };
  const checks = verdict.trace.map((step): CheckResult => {
    const detail = describe(step, verdict, session, target, atMs, inactivePolicies, ids);
    if (step.outcome !== 'skip') return { check: step.check, outcome: step.outcome, detail };
    return { check: step.check, outcome: 'skip', detail: `not reached (would ${step.wouldPass ? 'pass' : 'fail'}: ${detail})` };
  });
  const decision = verdict.allow
    ? { decision: 'allow' as const }
    : { decision: 'deny' as const, reason: verdict.reason, message: REASONS[verdict.reason] };
  return { ...decision, checks, effective };
}

/** What one check found, in words. */
function describe(
  step: CheckTrace,
  verdict: Verdict,
  session: StoredSession,
  target: RequestTarget,
  atMs: number,
  inactivePolicies: readonly string[],
  ids: readonly string[],
): string {
  const settings = verdict.effective;
  const { limits, scope } = verdict.governing;
  const counters = verdict.counters ?? {};
  const where = scope === 'key' ? '' : ` (${scopeName(scope)}'s own limit)`;
  switch (step.check) {
    case 'policies':
      if (settings.missing.length > 0) return `applyPolicies names missing policies (${settings.missing.join(', ')})`;
      if (settings.conflicting.length > 0)
        return `policies that cannot apply together (per-API with partitioned): ${settings.conflicting.join(', ')}`;
      return `policies: ${ids.join(', ') || 'none'}`;
    case 'inactive':
      if (session.isInactive) return 'the key is inactive (isInactive)';
      return inactivePolicies.length > 0 ? `inactive policies: ${inactivePolicies.join(', ')}` : 'the key is active';
    case 'expiry':
      return expiryDetail(session.expires, Math.floor(atMs / 1000));
    case 'access_rights':
      return accessDetail(step.reason, settings.accessRights, target);
    case 'rate_limit':
      return rateDetail(step, limits, counters, atMs) + where;
    case 'quota':
      return quotaDetail(step, limits, counters, atMs) + where;
  }
}

function expiryDetail(expires: number, now: number): string {
  if (expires === 0) return 'never expires';
  const at = new Date(expires * 1000).toISOString();
  return isExpired(expires, now) ? `expired at ${at} (${now - expires} s ago)` : `expires at ${at} (in ${expires - now} s)`;
}

function accessDetail(reason: Reason | undefined, rights: Readonly<Record<string, AccessRight>>, target: RequestTarget): string {
  const method = target.method.toUpperCase();
  if (reason === undefined)
    return Object.keys(rights).length === 0
      ? 'every API allowed'
      : `${method} ${target.path} on API ${target.apiId}, stage ${target.stage} allowed`;
  if (reason === 'url_not_allowed') return `no allowedUrls entry of API ${target.apiId} allows ${method} ${target.path}`;
  if (reason === 'url_rights_not_cacheable')
    return `API ${target.apiId} has URL rights, and authorizer result caching is on: an Allow would be cached for other routes`;
  return Object.hasOwn(rights, target.apiId)
    ? `stage ${target.stage} is not in the versions of API ${target.apiId}`
    : `API ${target.apiId} is not in the access rights`;
}

function rateDetail(step: CheckTrace, limits: Limits, counters: Counters, atMs: number): string {
  if (limits.rate === 0) return 'no rate limit';
  const limit = `${limits.rate} per ${limits.per} s`;
  const verdict = step.limit!;
  if (verdict.kind === 'rate_limited') return `rate limit of ${limit} reached; the window resets in ${verdict.retryAfter} s`;
  if (verdict.kind === 'count' && verdict.plan.rate === 'open') return `a new window of ${limit} would open`;
  return `${rateRemaining(limits, counters, atMs)} of ${limit} left in the current window`;
}

function quotaDetail(step: CheckTrace, limits: Limits, counters: Counters, atMs: number): string {
  if (limits.quotaMax === -1) return 'unlimited quota';
  if (limits.quotaMax === 0) return 'quotaMax is 0: no requests allowed';
  const renewsAt = quotaRenews(limits, counters);
  const renews = limits.quotaRenewalRate > 0 ? `renews at ${new Date(renewsAt * 1000).toISOString()}` : 'never renews';
  const verdict = step.limit!;
  if (verdict.kind === 'quota_exceeded') return `quota of ${limits.quotaMax} used up; ${renews}`;
  if (verdict.kind === 'count' && verdict.plan.quota === 'open') return `a new quota window of ${limits.quotaMax} requests would open`;
  return `${quotaRemaining(limits, counters, atMs)} of ${limits.quotaMax} requests left; ${renews}`;
}
