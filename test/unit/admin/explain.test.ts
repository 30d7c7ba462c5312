import { describe, expect, it } from 'vitest';
import { explainDecision, type ExplainedSession } from '../../../lambdas/core/request/explain.ts';
import type { Policy } from '../../../lambdas/core/policies/policy.ts';

const NOW = 1_700_000_000;
const AT = NOW * 1000;
const TARGET = { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets/1' };

function session(overrides: Partial<ExplainedSession> = {}): ExplainedSession {
  return {
    isInactive: false,
    expires: 0,
    rate: 0,
    per: 0,
    quotaMax: -1,
    quotaRenewalRate: 0,
    quotaRemaining: -1,
    quotaRenews: NOW,
    accessRights: {},
    applyPolicies: [],
    ...overrides,
  };
}

function policy(id: string, overrides: Partial<Policy> = {}): Policy {
  return {
    id,
    rate: 0,
    per: 0,
    quotaMax: -1,
    quotaRenewalRate: 0,
    accessRights: {},
    keyExpiresIn: 0,
    tags: [],
    metaData: {},
    isInactive: false,
    version: 1,
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  };
}

const outcomes = (s: ExplainedSession, policies: Policy[] = [], at = AT) =>
  explainDecision(s, policies, TARGET, at).checks.map((c) => `${c.check}:${c.outcome}`);

describe('explainDecision', () => {
  it('allows an unrestricted session, every check passing', () => {
    const result = explainDecision(session(), [], TARGET, AT);

    expect(result.decision).toBe('allow');
    expect(result).not.toHaveProperty('reason');
    expect(result.checks.map((c) => c.detail)).toEqual(['the key is active', 'never expires', 'every API allowed', 'no rate limit', 'unlimited quota']);
  });

  it.each([
    [{ isInactive: true }, 'key_inactive', ['inactive:fail', 'expiry:skip', 'access_rights:skip', 'rate_limit:skip', 'quota:skip']],
    [{ expires: NOW }, 'session_expired', ['inactive:pass', 'expiry:fail', 'access_rights:skip', 'rate_limit:skip', 'quota:skip']],
    [{ accessRights: { other: {} } }, 'api_not_allowed', ['inactive:pass', 'expiry:pass', 'access_rights:fail', 'rate_limit:skip', 'quota:skip']],
    [{ accessRights: { api1: { versions: ['dev'] } } }, 'api_not_allowed', ['inactive:pass', 'expiry:pass', 'access_rights:fail', 'rate_limit:skip', 'quota:skip']],
    [{ accessRights: { api1: { allowedUrls: [{ url: '/pets', methods: ['GET'] }] } } }, 'url_not_allowed', ['inactive:pass', 'expiry:pass', 'access_rights:fail', 'rate_limit:skip', 'quota:skip']],
    [{ rate: 2, per: 10, rateRemaining: 0, rateResetsAt: AT + 4500 }, 'rate_limited', ['inactive:pass', 'expiry:pass', 'access_rights:pass', 'rate_limit:fail', 'quota:skip']],
    [{ quotaMax: 5, quotaRemaining: 0, quotaRenewalRate: 60, quotaRenews: NOW + 30 }, 'quota_exceeded', ['inactive:pass', 'expiry:pass', 'access_rights:pass', 'rate_limit:pass', 'quota:fail']],
    [{ quotaMax: 0 }, 'quota_exceeded', ['inactive:pass', 'expiry:pass', 'access_rights:pass', 'rate_limit:pass', 'quota:fail']],
  ] as const)('denies %j with %s at the first failing check', (overrides, reason, expected) => {
    const result = explainDecision(session(overrides as Partial<ExplainedSession>), [], TARGET, AT);

    expect(result).toMatchObject({ decision: 'deny', reason });
    expect(result.message).toBeTruthy();
    expect(outcomes(session(overrides as Partial<ExplainedSession>))).toEqual(expected);
  });

  it('says what a skipped check would have found', () => {
    const result = explainDecision(session({ isInactive: true, expires: NOW - 1, quotaMax: 3, quotaRemaining: 2, quotaRenewalRate: 60, quotaRenews: NOW + 10 }), [], TARGET, AT);

    expect(result.checks[1]!.detail).toMatch(/^not reached \(would fail: expired at 2023-11-14T22:13:19\.000Z \(1 s ago\)\)$/);
    expect(result.checks[4]!.detail).toMatch(/^not reached \(would pass: 2 of 3 requests left; renews at /);
  });

  it('reads the counters at the time asked: a closed rate window and a quota window due to renew both pass', () => {
    const s = session({ rate: 2, per: 10, rateRemaining: 0, rateResetsAt: AT + 4500, quotaMax: 5, quotaRemaining: 0, quotaRenewalRate: 60, quotaRenews: NOW + 30 });

    expect(outcomes(s, [], AT + 60_000)).toEqual(['inactive:pass', 'expiry:pass', 'access_rights:pass', 'rate_limit:pass', 'quota:pass']);
    expect(explainDecision(s, [], TARGET, AT + 60_000).checks.slice(3).map((c) => c.detail)).toEqual([
      'a new window of 2 per 10 s would open',
      'a new quota window of 5 requests would open',
    ]);
  });

  it('checks against the policies\' limits and rights, not the session\'s own', () => {
    const s = session({ applyPolicies: ['gold'], quotaMax: 1000, quotaRemaining: 0, quotaRenewalRate: 60, quotaRenews: NOW + 30, accessRights: { other: {} } });
    const result = explainDecision(s, [policy('gold', { quotaMax: 10, quotaRenewalRate: 60, accessRights: { api1: {} } })], TARGET, AT);

    expect(result).toMatchObject({ decision: 'deny', reason: 'quota_exceeded', effective: { limits: { quotaMax: 10 }, accessRights: { api1: {} }, policies: { applied: ['gold'], missing: [], inactive: [] } } });
  });

  it('denies no_matching_policy, every check skipped, when a policy is missing', () => {
    const result = explainDecision(session({ applyPolicies: ['gold', 'gone'] }), [policy('gold')], TARGET, AT);

    expect(result).toMatchObject({ decision: 'deny', reason: 'no_matching_policy', effective: { policies: { applied: ['gold'], missing: ['gone'] } } });
    expect(result.checks.every((c) => c.outcome === 'skip' && c.detail.includes('gone'))).toBe(true);
  });

  it('names an inactive policy', () => {
    const result = explainDecision(session({ applyPolicies: ['off'] }), [policy('off', { isInactive: true })], TARGET, AT);

    expect(result).toMatchObject({ decision: 'deny', reason: 'key_inactive' });
    expect(result.checks[0]!.detail).toBe('inactive policies: off');
  });
});
