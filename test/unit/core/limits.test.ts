import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planCount, quotaRemaining, quotaUsedFor, rateRemaining, type Counters, type Limits } from '../../../lambdas/core/limits/limits.ts';

const NOW = 1_750_000_000;
const AT = NOW * 1000 + 250;
const QUOTA_10_PER_HOUR: Limits = { rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 3600 };
const RATE_5_PER_10S: Limits = { rate: 5, per: 10, quotaMax: -1, quotaRenewalRate: 0 };

describe('planCount', () => {
  it('counts nothing when there is no rate limit and the quota is unlimited', () => {
    const verdict = planCount({ rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 }, {}, AT);
    expect(verdict).toMatchObject({ kind: 'count', plan: { rate: 'none', quota: 'none' } });
  });

  it('takes from an open quota window with room, and opens a new one once it is over', () => {
    expect(planCount(QUOTA_10_PER_HOUR, { quotaUsed: 9, quotaRenews: NOW + 1 }, AT)).toMatchObject({ plan: { quota: 'take' } });
    expect(planCount(QUOTA_10_PER_HOUR, { quotaUsed: 10, quotaRenews: NOW }, AT)).toMatchObject({ plan: { quota: 'open' } });
  });

  it('denies a used-up quota with the time it renews', () => {
    expect(planCount(QUOTA_10_PER_HOUR, { quotaUsed: 10, quotaRenews: NOW + 5 }, AT)).toEqual({
      kind: 'quota_exceeded',
      quotaRenews: NOW + 5,
    });
  });

  it('judges the count made so far by the limit in force: a lowered quota denies, a raised one grants the difference', () => {
    const counters = { quotaUsed: 30, quotaRenews: NOW + 60 };
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaMax: 30 }, counters, AT).kind).toBe('quota_exceeded');
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaMax: 31 }, counters, AT)).toMatchObject({ plan: { quota: 'take' } });
  });

  it('never renews a quota whose renewal rate is 0', () => {
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaRenewalRate: 0 }, { quotaUsed: 10, quotaRenews: 0 }, AT).kind).toBe('quota_exceeded');
  });

  it('denies every request when quotaMax is 0', () => {
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaMax: 0 }, undefined, AT).kind).toBe('quota_exceeded');
  });

  it('opens a rate window at the first request after the last one closed, and denies a full one with retryAfter', () => {
    expect(planCount(RATE_5_PER_10S, {}, AT)).toMatchObject({ plan: { rate: 'open' } });
    expect(planCount(RATE_5_PER_10S, { rateUsed: 4, rateResetsAt: AT + 1 }, AT)).toMatchObject({ plan: { rate: 'take' } });
    expect(planCount(RATE_5_PER_10S, { rateUsed: 5, rateResetsAt: AT + 2500 }, AT)).toEqual({ kind: 'rate_limited', retryAfter: 3 });
    expect(planCount(RATE_5_PER_10S, { rateUsed: 5, rateResetsAt: AT }, AT)).toMatchObject({ plan: { rate: 'open' } });
  });

  it('checks the rate limit before the quota: a rate-limited request is not a quota denial', () => {
    const both = { ...RATE_5_PER_10S, quotaMax: 1, quotaRenewalRate: 60 };
    expect(planCount(both, { rateUsed: 5, rateResetsAt: AT + 1000, quotaUsed: 1, quotaRenews: NOW + 60 }, AT).kind).toBe('rate_limited');
  });

  it('plans a take for every limited counter when the counters are not known (the write checks the guess)', () => {
    const both = { ...RATE_5_PER_10S, quotaMax: 10, quotaRenewalRate: 60 };
    expect(planCount(both, undefined, AT)).toMatchObject({ plan: { rate: 'take', quota: 'take' } });
  });

  it('allows, over any sequence of requests within one window, exactly min(requests, quota)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 80 }), (quotaMax, requests) => {
        let counters: Counters = { quotaUsed: 0, quotaRenews: NOW + 3600 };
        let allowed = 0;
        for (let i = 0; i < requests; i++) {
          const verdict = planCount({ ...QUOTA_10_PER_HOUR, quotaMax }, counters, AT);
          if (verdict.kind !== 'count') continue;
          allowed++;
          counters = { ...counters, quotaUsed: (counters.quotaUsed ?? 0) + 1 };
        }
        expect(allowed).toBe(Math.min(requests, quotaMax));
      }),
    );
  });
});

describe('what is left', () => {
  it('shows -1 for an unlimited quota or no rate limit, the whole quota once the window is over', () => {
    expect(quotaRemaining({ ...QUOTA_10_PER_HOUR, quotaMax: -1 }, { quotaUsed: 3 }, NOW)).toBe(-1);
    expect(quotaRemaining(QUOTA_10_PER_HOUR, { quotaUsed: 3, quotaRenews: NOW + 1 }, NOW)).toBe(7);
    expect(quotaRemaining(QUOTA_10_PER_HOUR, { quotaUsed: 3, quotaRenews: NOW }, NOW)).toBe(10);
    expect(quotaRemaining({ ...QUOTA_10_PER_HOUR, quotaMax: 2 }, { quotaUsed: 3, quotaRenews: NOW + 1 }, NOW)).toBe(0);
    expect(rateRemaining(RATE_5_PER_10S, { rateUsed: 2, rateResetsAt: AT + 1 }, AT)).toBe(3);
    expect(rateRemaining({ ...RATE_5_PER_10S, rate: 0 }, {}, AT)).toBe(-1);
  });

  it('turns a quotaRemaining an admin sets into the count used under the quota in force', () => {
    expect(quotaUsedFor(100, 40)).toBe(60);
    expect(quotaUsedFor(100, 150)).toBe(0);
    expect(quotaUsedFor(-1, 5)).toBe(0);
  });
});
