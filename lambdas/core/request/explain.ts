import { checkAccessRights, type RequestTarget } from './access-rights.ts';
import { planConsumption, type Counters, type Limits } from '../limits/limits.ts';
import { effectiveSettings, type Policy, type PolicySubject } from '../policies/policy.ts';
import { REASONS, type Reason } from '../model/reasons.ts';
import { isExpired, type AccessRight } from '../model/session.ts';

/** The checks of the pipeline, in its order (SPEC §4 step 5). */
export const CHECKS = ['inactive', 'expiry', 'access_rights', 'rate_limit', 'quota'] as const;
export type CheckName = (typeof CHECKS)[number];

/** `skip`: not reached, because an earlier check (or a missing policy) denied first. */
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

/** What {@link explainDecision} reads of a session: its settings and its counters. */
export type ExplainedSession = PolicySubject & Counters & { readonly isInactive: boolean; readonly expires: number };

interface Verdict {
  readonly ok: boolean;
  readonly reason?: Reason;
  readonly detail: string;
}

/**
 * The decision the authorizer would reach for `target` at `atMs` — the same checks, in the
 * same order, on the same effective settings — without writing anything: a dry run for
 * operators ("why is this key denied?"). Every check is evaluated; those after the first
 * failure are `skip`, their detail saying what they would have found.
 *
 * @example
 * const why = explainDecision(stored, policies, { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' }, Date.now());
 * why.decision; // 'deny'
 * why.checks.find((c) => c.outcome === 'fail'); // { check: 'quota', outcome: 'fail', detail: 'quota of 100 used up; renews at …' }
 */
export function explainDecision(session: ExplainedSession, policies: readonly Policy[], target: RequestTarget, atMs: number): Explanation {
  const settings = effectiveSettings(session, policies);
  const ids = [...new Set(session.applyPolicies)];
  const applied = policies.filter((policy) => ids.includes(policy.id));
  const effective = {
    limits: settings.limits,
    accessRights: settings.accessRights,
    policies: {
      applied: applied.map((policy) => policy.id),
      missing: settings.missing,
      inactive: applied.filter((policy) => policy.isInactive).map((policy) => policy.id),
    },
  };
  if (settings.missing.length > 0) {
    const detail = `not reached: applyPolicies names missing policies (${settings.missing.join(', ')})`;
    return {
      ...denial('no_matching_policy'),
      checks: CHECKS.map((check) => ({ check, outcome: 'skip', detail })),
      effective,
    };
  }

  const now = Math.floor(atMs / 1000);
  const verdicts: Record<CheckName, Verdict> = {
    inactive: inactiveVerdict(session.isInactive, effective.policies.inactive),
    expiry: expiryVerdict(session.expires, now),
    access_rights: accessVerdict(settings.accessRights, target),
    rate_limit: rateVerdict(settings.limits, session, atMs),
    quota: quotaVerdict(settings.limits, session, atMs),
  };

  let failed: Verdict | undefined;
  const checks = CHECKS.map((check): CheckResult => {
    const verdict = verdicts[check];
    if (failed !== undefined) {
      return { check, outcome: 'skip', detail: `not reached (would ${verdict.ok ? 'pass' : 'fail'}: ${verdict.detail})` };
    }
    if (!verdict.ok) failed = verdict;
    return { check, outcome: verdict.ok ? 'pass' : 'fail', detail: verdict.detail };
  });
  const decision = failed === undefined ? { decision: 'allow' as const } : denial(failed.reason!);
  return { ...decision, checks, effective };
}

function denial(reason: Reason): { decision: 'deny'; reason: Reason; message: string } {
  return { decision: 'deny', reason, message: REASONS[reason] };
}

function inactiveVerdict(isInactive: boolean, inactivePolicies: readonly string[]): Verdict {
  if (isInactive) return { ok: false, reason: 'key_inactive', detail: 'the key is inactive (isInactive)' };
  if (inactivePolicies.length > 0) {
    return { ok: false, reason: 'key_inactive', detail: `inactive policies: ${inactivePolicies.join(', ')}` };
  }
  return { ok: true, detail: 'the key is active' };
}

function expiryVerdict(expires: number, now: number): Verdict {
  if (expires === 0) return { ok: true, detail: 'never expires' };
  const at = new Date(expires * 1000).toISOString();
  if (isExpired(expires, now)) return { ok: false, reason: 'session_expired', detail: `expired at ${at} (${now - expires} s ago)` };
  return { ok: true, detail: `expires at ${at} (in ${expires - now} s)` };
}

function accessVerdict(rights: Readonly<Record<string, AccessRight>>, target: RequestTarget): Verdict {
  const where = `${target.method.toUpperCase()} ${target.path} on API ${target.apiId}, stage ${target.stage}`;
  const verdict = checkAccessRights(rights, target);
  if (verdict === 'allowed') {
    return { ok: true, detail: Object.keys(rights).length === 0 ? 'every API allowed' : `${where} allowed` };
  }
  if (verdict === 'url_not_allowed') {
    return { ok: false, reason: verdict, detail: `no allowedUrls entry of API ${target.apiId} allows ${target.method.toUpperCase()} ${target.path}` };
  }
  const listed = Object.hasOwn(rights, target.apiId);
  return {
    ok: false,
    reason: verdict,
    detail: listed ? `stage ${target.stage} is not in the versions of API ${target.apiId}` : `API ${target.apiId} is not in the access rights`,
  };
}

function rateVerdict(limits: Limits, counters: Counters, atMs: number): Verdict {
  if (limits.rate === 0) return { ok: true, detail: 'no rate limit' };
  const limit = `${limits.rate} per ${limits.per} s`;
  const plan = planConsumption({ ...limits, quotaMax: -1 }, counters, atMs);
  if (plan.kind === 'rate_limited') {
    return { ok: false, reason: 'rate_limited', detail: `rate limit of ${limit} reached; the window resets in ${plan.retryAfter} s` };
  }
  if (plan.kind === 'consume' && plan.rate === 'take') {
    return { ok: true, detail: `${counters.rateRemaining} of ${limit} left in the current window` };
  }
  return { ok: true, detail: `a new window of ${limit} would open` };
}

function quotaVerdict(limits: Limits, counters: Counters, atMs: number): Verdict {
  if (limits.quotaMax === -1) return { ok: true, detail: 'unlimited quota' };
  const renews = limits.quotaRenewalRate > 0 ? `renews at ${new Date(counters.quotaRenews * 1000).toISOString()}` : 'never renews';
  const plan = planConsumption({ ...limits, rate: 0, per: 0 }, counters, atMs);
  if (plan.kind === 'quota_exceeded') {
    const detail = limits.quotaMax === 0 ? 'quotaMax is 0: no requests allowed' : `quota of ${limits.quotaMax} used up; ${renews}`;
    return { ok: false, reason: 'quota_exceeded', detail };
  }
  if (plan.kind === 'consume' && plan.quota === 'open') {
    return { ok: true, detail: `a new quota window of ${limits.quotaMax} requests would open` };
  }
  return { ok: true, detail: `${counters.quotaRemaining} of ${limits.quotaMax} requests left; ${renews}` };
}
