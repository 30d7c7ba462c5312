import { describe, expect, it } from 'vitest';
import { explainDecision } from '../../../lambdas/core/request/explain.ts';
import type { Policy } from '../../../lambdas/core/policies/policy.ts';
import type { StoredSession } from '../../../lambdas/core/store/item.ts';
import { NOW, NOW_MS as AT, storedPolicy, storedSession } from '../../support/fixtures.ts';

const TARGET = { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets/1' };

const outcomes = (s: StoredSession, policies: Policy[] = [], at = AT) =>
  explainDecision(s, policies, TARGET, at).checks.map((c) => `${c.check}:${c.outcome}`);

describe('explainDecision', () => {
  it('allows an unrestricted session, every check passing', () => {
    const result = explainDecision(storedSession(), [], TARGET, AT);

    expect(result.decision).toBe('allow');
    expect(result).not.toHaveProperty('reason');
    expect(result.checks.map((c) => c.detail)).toEqual([
      'policies: none',
      'the key is active',
      'never expires',
      'every API allowed',
      'no rate limit',
      'unlimited quota',
    ]);
  });

  it.each([
    [
      { isInactive: true },
      'key_inactive',
      ['policies:pass', 'inactive:fail', 'expiry:skip', 'access_rights:skip', 'rate_limit:skip', 'quota:skip'],
    ],
    [
      { expires: NOW },
      'session_expired',
      ['policies:pass', 'inactive:pass', 'expiry:fail', 'access_rights:skip', 'rate_limit:skip', 'quota:skip'],
    ],
    [
      { accessRights: { other: {} } },
      'api_not_allowed',
      ['policies:pass', 'inactive:pass', 'expiry:pass', 'access_rights:fail', 'rate_limit:skip', 'quota:skip'],
    ],
    [
      { accessRights: { api1: { versions: ['dev'] } } },
      'api_not_allowed',
      ['policies:pass', 'inactive:pass', 'expiry:pass', 'access_rights:fail', 'rate_limit:skip', 'quota:skip'],
    ],
    [
      { accessRights: { api1: { allowedUrls: [{ url: '/pets', methods: ['GET'] }] } } },
      'url_not_allowed',
      ['policies:pass', 'inactive:pass', 'expiry:pass', 'access_rights:fail', 'rate_limit:skip', 'quota:skip'],
    ],
    [
      { rate: 2, per: 10, rateUsed: 2, rateStart: AT + 4500 - 10_000 },
      'rate_limited',
      ['policies:pass', 'inactive:pass', 'expiry:pass', 'access_rights:pass', 'rate_limit:fail', 'quota:skip'],
    ],
    [
      { quotaMax: 5, quotaUsed: 5, quotaRenewalRate: 60, quotaStart: (NOW + 30 - 60) * 1000 },
      'quota_exceeded',
      ['policies:pass', 'inactive:pass', 'expiry:pass', 'access_rights:pass', 'rate_limit:pass', 'quota:fail'],
    ],
    [
      { quotaMax: 0 },
      'quota_exceeded',
      ['policies:pass', 'inactive:pass', 'expiry:pass', 'access_rights:pass', 'rate_limit:pass', 'quota:fail'],
    ],
  ] as const)('denies %j with %s at the first failing check', (overrides, reason, expected) => {
    const result = explainDecision(storedSession(overrides as Partial<StoredSession>), [], TARGET, AT);

    expect(result).toMatchObject({ decision: 'deny', reason });
    expect(result.message).toBeTruthy();
    expect(outcomes(storedSession(overrides as Partial<StoredSession>))).toEqual(expected);
  });

  it('says what a skipped check would have found', () => {
    const result = explainDecision(
      storedSession({
        isInactive: true,
        expires: NOW - 1,
        quotaMax: 3,
        quotaUsed: 1,
        quotaRenewalRate: 60,
        quotaStart: (NOW + 10 - 60) * 1000,
      }),
      [],
      TARGET,
      AT,
    );

    expect(result.checks[2]!.detail).toMatch(/^not reached \(would fail: expired at 2023-11-14T22:13:19\.000Z \(1 s ago\)\)$/);
    expect(result.checks[5]!.detail).toMatch(/^not reached \(would pass: 2 of 3 requests left; renews at /);
  });

  it('reads the counters at the time asked: a closed rate window and a quota window due to renew both pass', () => {
    const s = storedSession({
      rate: 2,
      per: 10,
      rateUsed: 2,
      rateStart: AT + 4500 - 10_000,
      quotaMax: 5,
      quotaUsed: 5,
      quotaRenewalRate: 60,
      quotaStart: (NOW + 30 - 60) * 1000,
    });

    expect(outcomes(s, [], AT + 60_000)).toEqual([
      'policies:pass',
      'inactive:pass',
      'expiry:pass',
      'access_rights:pass',
      'rate_limit:pass',
      'quota:pass',
    ]);
    expect(
      explainDecision(s, [], TARGET, AT + 60_000)
        .checks.slice(4)
        .map((c) => c.detail),
    ).toEqual(['a new window of 2 per 10 s would open', 'a new quota window of 5 requests would open']);
  });

  it("checks against the policies' limits and rights, not the session's own", () => {
    const s = storedSession({
      applyPolicies: ['gold'],
      quotaMax: 1000,
      quotaUsed: 10,
      quotaRenewalRate: 60,
      quotaStart: (NOW + 30 - 60) * 1000,
      accessRights: { other: {} },
    });
    const result = explainDecision(
      s,
      [storedPolicy('gold', { quotaMax: 10, quotaRenewalRate: 60, accessRights: { api1: {} } })],
      TARGET,
      AT,
    );

    expect(result).toMatchObject({
      decision: 'deny',
      reason: 'quota_exceeded',
      effective: { limits: { quotaMax: 10 }, accessRights: { api1: {} }, policies: { applied: ['gold'], missing: [], inactive: [] } },
    });
  });

  it('denies no_matching_policy at the policies check, every later check skipped, when a policy is missing', () => {
    const result = explainDecision(storedSession({ applyPolicies: ['gold', 'gone'] }), [storedPolicy('gold')], TARGET, AT);

    expect(result).toMatchObject({
      decision: 'deny',
      reason: 'no_matching_policy',
      effective: { policies: { applied: ['gold'], missing: ['gone'] } },
    });
    expect(result.checks[0]).toMatchObject({ check: 'policies', outcome: 'fail' });
    expect(result.checks[0]!.detail).toContain('gone');
    expect(result.checks.slice(1).every((c) => c.outcome === 'skip')).toBe(true);
  });

  it('names an inactive policy', () => {
    const result = explainDecision(storedSession({ applyPolicies: ['off'] }), [storedPolicy('off', { isInactive: true })], TARGET, AT);

    expect(result).toMatchObject({ decision: 'deny', reason: 'key_inactive' });
    expect(result.checks[1]!.detail).toBe('inactive policies: off');
  });
});
