import { describe, expect, it } from 'vitest';
import { decide } from '../../../lambdas/core/request/decide.ts';
import { quotaRetryAfter } from '../../../lambdas/core/request/retry-after.ts';
import { NOW, storedSession } from '../../support/fixtures.ts';

const TARGET = { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' };
const HOURLY = { rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 3600 };

describe('quotaRetryAfter', () => {
  it('is the time until the quota window renews, rounded up, at least 1 s', () => {
    expect(quotaRetryAfter(HOURLY, NOW + 100, NOW * 1000 + 500)).toEqual({ retryAfter: 100 });
    expect(quotaRetryAfter(HOURLY, NOW + 1, NOW * 1000 + 999)).toEqual({ retryAfter: 1 });
  });

  it('is nothing when waiting would not help: a quota that never renews, a quota of 0, a window already over', () => {
    expect(quotaRetryAfter({ ...HOURLY, quotaRenewalRate: 0 }, NOW + 100, NOW * 1000)).toEqual({});
    expect(quotaRetryAfter({ ...HOURLY, quotaMax: 0 }, NOW + 100, NOW * 1000)).toEqual({});
    expect(quotaRetryAfter(HOURLY, NOW, NOW * 1000)).toEqual({});
  });
});

describe('a quota_exceeded denial', () => {
  const used = (overrides: Parameters<typeof storedSession>[0]) =>
    decide({
      session: storedSession({
        incarnation: 'i1',
        quotaMax: 10,
        quotaUsed: 10,
        quotaRenewalRate: 3600,
        quotaRenews: NOW + 90,
        ...overrides,
      }),
      countersKnown: true,
      policies: [],
      target: TARGET,
      nowMs: NOW * 1000,
    });

  it('carries retryAfter next to quotaRenews when the quota renews', () => {
    expect(used({})).toMatchObject({ allow: false, reason: 'quota_exceeded', context: { quotaRenews: NOW + 90, retryAfter: 90 } });
  });

  it('carries no retryAfter when the quota never renews', () => {
    const verdict = used({ quotaRenewalRate: 0 });
    expect(verdict).toMatchObject({ allow: false, reason: 'quota_exceeded' });
    expect(verdict.allow === false && verdict.context).not.toHaveProperty('retryAfter');
  });
});
