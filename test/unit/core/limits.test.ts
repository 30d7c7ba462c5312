import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  planCount,
  quotaRemaining,
  quotaRenews,
  quotaStartFor,
  quotaUsedFor,
  rateRemaining,
  windowOpen,
  type Counters,
  type Limits,
} from '../../../lambdas/core/limits/limits.ts';

const NOW = 1_750_000_000;
const AT = NOW * 1000 + 250;
const HOUR = 3600;
const QUOTA_10_PER_HOUR: Limits = { rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: HOUR };
const RATE_5_PER_10S: Limits = { rate: 5, per: 10, quotaMax: -1, quotaRenewalRate: 0 };
/** A window that started `seconds` before AT. */
const startedAgo = (seconds: number): number => AT - seconds * 1000;

describe('the window rule', () => {
  it('keeps a window open until its start plus the length in force, and forever when the length is 0', () => {
    expect(windowOpen(undefined, 60, AT)).toBe(false);
    expect(windowOpen(startedAgo(59), 60, AT)).toBe(true);
    expect(windowOpen(startedAgo(60), 60, AT)).toBe(false);
    expect(windowOpen(startedAgo(10 * 365 * 86_400), 0, AT)).toBe(true);
  });

  it('measures the window in progress by the length in force: a quota that starts to renew keeps its count', () => {
    const counters = { quotaUsed: 6, quotaStart: startedAgo(5) };
    const lifetime = { ...QUOTA_10_PER_HOUR, quotaRenewalRate: 0 };
    const monthly = { ...QUOTA_10_PER_HOUR, quotaRenewalRate: 30 * 86_400 };
    expect(quotaRemaining(lifetime, counters, AT)).toBe(4);
    expect(quotaRemaining(monthly, counters, AT)).toBe(4);
    expect(planCount(monthly, { ...counters, quotaUsed: 10 }, AT).kind).toBe('quota_exceeded');
  });

  it('moves the end of the window in progress when its length changes', () => {
    const counters = { quotaUsed: 10, quotaStart: startedAgo(2 * HOUR) };
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaRenewalRate: 3 * HOUR }, counters, AT).kind).toBe('quota_exceeded');
    expect(planCount(QUOTA_10_PER_HOUR, counters, AT)).toMatchObject({ plan: { quota: 'open' } });
  });
});

describe('planCount', () => {
  it('counts nothing when there is no rate limit and the quota is unlimited', () => {
    const verdict = planCount({ rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 }, {}, AT);
    expect(verdict).toMatchObject({ kind: 'count', plan: { rate: 'none', quota: 'none' } });
  });

  it('takes from an open quota window with room, and opens a new one once it is over', () => {
    expect(planCount(QUOTA_10_PER_HOUR, { quotaUsed: 9, quotaStart: startedAgo(HOUR - 1) }, AT)).toMatchObject({ plan: { quota: 'take' } });
    expect(planCount(QUOTA_10_PER_HOUR, { quotaUsed: 10, quotaStart: startedAgo(HOUR) }, AT)).toMatchObject({ plan: { quota: 'open' } });
    expect(planCount(QUOTA_10_PER_HOUR, {}, AT)).toMatchObject({ plan: { quota: 'open' } });
  });

  it('denies a used-up quota with the time it renews and the seconds until then', () => {
    const start = NOW * 1000 - (HOUR - 5) * 1000;
    expect(planCount(QUOTA_10_PER_HOUR, { quotaUsed: 10, quotaStart: start }, NOW * 1000)).toEqual({
      kind: 'quota_exceeded',
      quotaRenews: NOW + 5,
      retryAfter: 5,
    });
  });

  it('judges the count made so far by the limit in force: a lowered quota denies, a raised one grants the difference', () => {
    const counters = { quotaUsed: 30, quotaStart: startedAgo(60) };
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaMax: 25 }, counters, AT).kind).toBe('quota_exceeded');
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaMax: 31 }, counters, AT)).toMatchObject({ plan: { quota: 'take' } });
  });

  it('tells no retryAfter where waiting does not help: a quota of 0', () => {
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaMax: 0 }, { quotaStart: NOW * 1000 }, AT)).toEqual({
      kind: 'quota_exceeded',
      quotaRenews: NOW + HOUR,
    });
  });

  it('counts retryAfter to the exact end of the window, never past it', () => {
    const verdict = planCount(QUOTA_10_PER_HOUR, { quotaUsed: 10, quotaStart: AT - 1 }, AT);
    expect(verdict).toMatchObject({ kind: 'quota_exceeded', retryAfter: HOUR });
  });

  it('never renews a quota whose renewal rate is 0', () => {
    const counters = { quotaUsed: 10, quotaStart: startedAgo(100 * 86_400) };
    expect(planCount({ ...QUOTA_10_PER_HOUR, quotaRenewalRate: 0 }, counters, AT)).toEqual({ kind: 'quota_exceeded', quotaRenews: 0 });
  });

  it('opens a rate window at the first request after the last one closed, and denies a full one with retryAfter', () => {
    expect(planCount(RATE_5_PER_10S, { rateUsed: 4, rateStart: startedAgo(9) }, AT)).toMatchObject({ plan: { rate: 'take' } });
    expect(planCount(RATE_5_PER_10S, { rateUsed: 5, rateStart: AT - 7500 }, AT)).toEqual({ kind: 'rate_limited', retryAfter: 3 });
    expect(planCount(RATE_5_PER_10S, { rateUsed: 5, rateStart: startedAgo(10) }, AT)).toMatchObject({ plan: { rate: 'open' } });
  });

  it('checks the rate limit before the quota: a rate-limited request is not a quota denial', () => {
    const both = { ...RATE_5_PER_10S, quotaMax: 10, quotaRenewalRate: 60 };
    const counters = { rateUsed: 5, rateStart: startedAgo(1), quotaUsed: 10, quotaStart: startedAgo(1) };
    expect(planCount(both, counters, AT).kind).toBe('rate_limited');
  });

  it('plans takes when the counters are not known, for the write to check', () => {
    const both = { ...RATE_5_PER_10S, quotaMax: 10, quotaRenewalRate: 60 };
    expect(planCount(both, undefined, AT)).toMatchObject({ plan: { rate: 'take', quota: 'take' } });
  });

  it('allows, over any sequence of requests within one window, exactly min(requests, quota)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 80 }), (quotaMax, requests) => {
        let counters: Counters = { quotaUsed: 0, quotaStart: startedAgo(1) };
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
    expect(quotaRemaining({ ...QUOTA_10_PER_HOUR, quotaMax: -1 }, { quotaUsed: 3 }, AT)).toBe(-1);
    expect(quotaRemaining(QUOTA_10_PER_HOUR, { quotaUsed: 3, quotaStart: startedAgo(HOUR - 1) }, AT)).toBe(7);
    expect(quotaRemaining(QUOTA_10_PER_HOUR, { quotaUsed: 3, quotaStart: startedAgo(HOUR) }, AT)).toBe(10);
    expect(quotaRemaining({ ...QUOTA_10_PER_HOUR, quotaMax: 2 }, { quotaUsed: 3, quotaStart: startedAgo(1) }, AT)).toBe(0);
    expect(rateRemaining(RATE_5_PER_10S, { rateUsed: 2, rateStart: startedAgo(9) }, AT)).toBe(3);
    expect(rateRemaining({ ...RATE_5_PER_10S, rate: 0 }, {}, AT)).toBe(-1);
  });

  it('shows when the quota renews: start plus the renewal rate in force, 0 when it never renews', () => {
    expect(quotaRenews(QUOTA_10_PER_HOUR, { quotaStart: NOW * 1000 })).toBe(NOW + HOUR);
    expect(quotaRenews({ ...QUOTA_10_PER_HOUR, quotaRenewalRate: 0 }, { quotaStart: NOW * 1000 })).toBe(0);
    expect(quotaRenews(QUOTA_10_PER_HOUR, quotaCountersRenewingAt(NOW + 5))).toBe(NOW + 5);
  });

  it('turns a quotaRemaining an admin sets into the count used under the quota in force', () => {
    expect(quotaUsedFor(100, 40)).toBe(60);
    expect(quotaUsedFor(100, 150)).toBe(0);
    expect(quotaUsedFor(-1, 5)).toBe(0);
  });
});

function quotaCountersRenewingAt(renews: number): Counters {
  return { quotaStart: quotaStartFor(renews, QUOTA_10_PER_HOUR.quotaRenewalRate) };
}
