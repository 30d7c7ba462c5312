import { describe, expect, it } from 'vitest';
import { decide, type DecideInput } from '../../../lambdas/core/request/decide.ts';
import type { StoredSession } from '../../../lambdas/core/store/item.ts';
import { NOW, storedPolicy, storedSession } from '../../support/fixtures.ts';

const TARGET = { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' };

/** A key with a quota of 10 per hour, none used, its window open. */
const session = (overrides: Partial<StoredSession> = {}): StoredSession =>
  storedSession({
    incarnation: 'i1',
    quotaMax: 10,
    quotaUsed: 0,
    quotaRenewalRate: 3600,
    quotaStart: (NOW + 100 - 3600) * 1000,
    ...overrides,
  });
const policy = storedPolicy;

const run = (overrides: Partial<DecideInput>) =>
  decide({ session: session(), countersKnown: true, policies: [], target: TARGET, nowMs: NOW * 1000, ...overrides });

describe('decide', () => {
  it("denies in Tyk's order, naming the first check that fails", () => {
    const everythingWrong = session({
      applyPolicies: ['gone'],
      isInactive: true,
      expires: NOW - 1,
      accessRights: { other: {} },
      quotaUsed: 10,
    });
    expect(run({ session: everythingWrong })).toMatchObject({ allow: false, reason: 'no_matching_policy', check: 'policies' });
    expect(run({ session: { ...everythingWrong, applyPolicies: [] } })).toMatchObject({ reason: 'key_inactive' });
    expect(run({ session: { ...everythingWrong, applyPolicies: [], isInactive: false } })).toMatchObject({
      reason: 'session_expired',
      context: { expires: NOW - 1 },
    });
    expect(run({ session: { ...everythingWrong, applyPolicies: [], isInactive: false, expires: 0 } })).toMatchObject({
      reason: 'api_not_allowed',
    });
    expect(run({ session: { ...everythingWrong, applyPolicies: [], isInactive: false, expires: 0, accessRights: {} } })).toMatchObject({
      reason: 'quota_exceeded',
      context: { quotaRenews: NOW + 100 },
    });
  });

  it('plans the count of an Allow from known counters, and guesses a take when they are not known', () => {
    expect(run({ session: session({ quotaStart: (NOW - 1 - 3600) * 1000 }) })).toMatchObject({ allow: true, plan: { quota: 'open' } });
    expect(run({ session: session({ quotaStart: (NOW - 1 - 3600) * 1000 }), countersKnown: false })).toMatchObject({
      allow: true,
      plan: { quota: 'take' },
    });
  });

  it("judges by the policies in force, not the key's own limits", () => {
    const verdict = run({
      session: session({ applyPolicies: ['gold'], quotaUsed: 10 }),
      policies: [policy('gold', { quotaMax: 20, quotaRenewalRate: 3600 })],
    });
    expect(verdict).toMatchObject({ allow: true, governing: { limits: { quotaMax: 20 }, scope: 'key' } });
  });

  it("counts an API with a limit of its own in that API's scope", () => {
    const verdict = run({ session: session({ accessRights: { api1: { limit: { quotaMax: 2, quotaRenewalRate: 60 } } } }) });
    expect(verdict).toMatchObject({ allow: true, governing: { limits: { quotaMax: 2 }, scope: { apiId: 'api1' } } });
  });

  it('refuses, before anything is counted, an Allow API Gateway would cache for other routes', () => {
    const urlRights = session({ accessRights: { api1: { allowedUrls: [{ url: '/pets', methods: ['GET'] }] } } });
    expect(run({ session: urlRights, resultsCached: true })).toMatchObject({ allow: false, reason: 'url_rights_not_cacheable' });
    expect(run({ session: urlRights })).toMatchObject({ allow: true });
    expect(run({ session: session({ accessRights: { api1: {} } }), resultsCached: true })).toMatchObject({ allow: true });
  });
});

describe('decide on a malformed item', () => {
  it('fails closed (a fault, never an Allow) when a limit or a setting is missing', () => {
    const { quotaMax: _gone, ...partial } = session();
    expect(() => run({ session: partial as StoredSession })).toThrow(expect.objectContaining({ code: 'ERR_STORE' }));
    expect(() => run({ session: session({ isInactive: 'no' as unknown as boolean }) })).toThrow(/isInactive/);
  });
});

describe('decide on limits that cannot be enforced', () => {
  it('fails closed on a stored rate limit without a window (per 0), never an unlimited key', () => {
    expect(() => run({ session: session({ rate: 2, per: 0 }) })).toThrow(/without a window/);
  });
});
