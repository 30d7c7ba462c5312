import { describe, expect, it } from 'vitest';
import { limitsInForce } from '../../../lambdas/admin/limits-view.ts';
import { NOW, storedPolicy, storedSession } from '../../support/fixtures.ts';

const gold = storedPolicy('gold', { rate: 10, per: 1, quotaMax: 10_000, quotaRenewalRate: 2_592_000 });

describe('limitsInForce', () => {
  it('shows a key without policies its own limits, from the key', () => {
    const item = storedSession({
      rate: 5,
      per: 10,
      quotaMax: 100,
      quotaRenewalRate: 3600,
      quotaUsed: 30,
      quotaStart: (NOW + 60 - 3600) * 1000,
    });

    const view = limitsInForce(item, [], NOW * 1000);

    expect(view).toEqual({
      rate: { value: 5, source: 'key' },
      per: { value: 10, source: 'key' },
      quotaMax: { value: 100, source: 'key' },
      quotaRenewalRate: { value: 3600, source: 'key' },
      quotaRemaining: { value: 70, source: 'key' },
      quotaRenews: { value: NOW + 60, source: 'key' },
    });
  });

  it("shows the policy's limits over the key's own, and the count read under them", () => {
    const item = storedSession({ applyPolicies: ['gold'], quotaMax: 500, quotaUsed: 1, quotaStart: NOW * 1000 });

    const view = limitsInForce(item, [gold], NOW * 1000);

    expect(view.quotaMax).toEqual({ value: 10_000, source: 'policy:gold' });
    expect(view.quotaRemaining).toEqual({ value: 9_999, source: 'policy:gold' });
    expect(view.rate).toEqual({ value: 10, source: 'policy:gold' });
    expect(view.per).toEqual({ value: 1, source: 'policy:gold' });
    expect(view.quotaRenewalRate).toEqual({ value: 2_592_000, source: 'policy:gold' });
  });

  it('names the policy that sets each value when several are merged', () => {
    const fast = storedPolicy('fast', { rate: 100, per: 1, quotaMax: 5, quotaRenewalRate: undefined });
    const long = storedPolicy('long', { rate: undefined, per: undefined, quotaMax: undefined, quotaRenewalRate: 3600 });
    const item = storedSession({ applyPolicies: ['long', 'fast'] });

    const view = limitsInForce(item, [fast, long], NOW * 1000);

    expect(view.rate.source).toBe('policy:fast');
    expect(view.quotaMax).toEqual({ value: 5, source: 'policy:fast' });
    expect(view.quotaRenewalRate).toEqual({ value: 3600, source: 'policy:long' });
  });

  it("keeps the key's own part where a partitioned policy takes no part", () => {
    const rateOnly = storedPolicy('rate-only', { rate: 2, per: 1, partitions: { rateLimit: true } });
    const item = storedSession({ applyPolicies: ['rate-only'], quotaMax: 50, quotaRenewalRate: 60 });

    const view = limitsInForce(item, [rateOnly], NOW * 1000);

    expect(view.rate).toEqual({ value: 2, source: 'policy:rate-only' });
    expect(view.quotaMax).toEqual({ value: 50, source: 'key' });
    expect(view.quotaRenewalRate).toEqual({ value: 60, source: 'key' });
  });

  it("lists an API's own limits apart, with its own counter, from the key or from a per-API policy", () => {
    const payments = storedPolicy('payments', {
      rate: undefined,
      per: undefined,
      quotaMax: undefined,
      quotaRenewalRate: undefined,
      partitions: { perApi: true },
      accessRights: { pay: { limit: { rate: 1, per: 1, quotaMax: 10, quotaRenewalRate: 60 } } },
    });
    const own = storedSession({
      accessRights: { search: { limit: { quotaMax: 3, quotaRenewalRate: 60 } } },
      'quotaUsed@search': 2,
      'quotaStart@search': (NOW + 30 - 60) * 1000,
    });
    const viaPolicy = storedSession({ applyPolicies: ['payments'] });

    expect(limitsInForce(own, [], NOW * 1000).apis?.search).toMatchObject({
      quotaMax: { value: 3, source: 'api:search' },
      quotaRemaining: { value: 1, source: 'api:search' },
      quotaRenews: { value: NOW + 30, source: 'api:search' },
    });
    expect(limitsInForce(viaPolicy, [payments], NOW * 1000).apis?.pay).toMatchObject({
      rate: { value: 1, source: 'policy:payments' },
      quotaMax: { value: 10, source: 'policy:payments' },
      quotaRemaining: { value: 10, source: 'policy:payments' },
    });
  });

  it('names policies that make every request denied', () => {
    const item = storedSession({ applyPolicies: ['gone'] });

    expect(limitsInForce(item, [], NOW * 1000).unenforceablePolicies).toEqual(['gone']);
    expect(limitsInForce(storedSession(), [], NOW * 1000)).not.toHaveProperty('unenforceablePolicies');
    expect(limitsInForce(storedSession(), [], NOW * 1000)).not.toHaveProperty('apis');
  });
});
