import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planConsumption, type Counters, type Limits } from '../../../lambdas/core/limits/limits.ts';

/** A frozen clock: 2023-11-14T22:13:20Z. */
const NOW = 1_700_000_000;
const NOW_MS = NOW * 1000;

const NO_LIMITS: Limits = { rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 };

function limits(overrides: Partial<Limits>): Limits {
  return { ...NO_LIMITS, ...overrides };
}

function counters(overrides: Partial<Counters> = {}): Counters {
  return { quotaRemaining: 0, quotaRenews: 0, ...overrides };
}

describe('planConsumption', () => {
  describe('without limits', () => {
    it('consumes nothing when there is no rate limit and the quota is unlimited', () => {
      const plan = planConsumption(NO_LIMITS, counters(), NOW_MS);

      expect(plan).toMatchObject({ kind: 'consume', rate: 'none', quota: 'none' });
    });
  });

  describe('rate limit (fixed window)', () => {
    const rateLimits = limits({ rate: 3, per: 10 });

    it('opens a window at the first request, with rate - 1 left and closing per seconds later', () => {
      const plan = planConsumption(rateLimits, counters(), NOW_MS);

      expect(plan).toMatchObject({
        kind: 'consume',
        rate: 'open',
        rateRemainingAfterOpen: 2,
        rateResetsAt: NOW_MS + 10_000,
      });
    });

    it('opens a new window exactly at rateResetsAt (the old window is closed)', () => {
      const plan = planConsumption(rateLimits, counters({ rateRemaining: 0, rateResetsAt: NOW_MS }), NOW_MS);

      expect(plan).toMatchObject({ kind: 'consume', rate: 'open' });
    });

    it('takes from the open window 1 ms before rateResetsAt when requests are left', () => {
      const plan = planConsumption(rateLimits, counters({ rateRemaining: 1, rateResetsAt: NOW_MS + 1 }), NOW_MS);

      expect(plan).toMatchObject({ kind: 'consume', rate: 'take' });
    });

    it('denies 1 ms before rateResetsAt when the window is empty, with retryAfter at least 1 s', () => {
      const plan = planConsumption(rateLimits, counters({ rateRemaining: 0, rateResetsAt: NOW_MS + 1 }), NOW_MS);

      expect(plan).toEqual({ kind: 'rate_limited', retryAfter: 1 });
    });

    it('rounds retryAfter up to whole seconds', () => {
      const plan = planConsumption(rateLimits, counters({ rateRemaining: 0, rateResetsAt: NOW_MS + 2001 }), NOW_MS);

      expect(plan).toEqual({ kind: 'rate_limited', retryAfter: 3 });
    });

    it('gives retryAfter in exact seconds when the window closes on a second boundary', () => {
      const plan = planConsumption(rateLimits, counters({ rateRemaining: 0, rateResetsAt: NOW_MS + 4000 }), NOW_MS);

      expect(plan).toEqual({ kind: 'rate_limited', retryAfter: 4 });
    });

    it('treats an open window without rateRemaining as empty', () => {
      const plan = planConsumption(rateLimits, counters({ rateResetsAt: NOW_MS + 500 }), NOW_MS);

      expect(plan).toMatchObject({ kind: 'rate_limited' });
    });

    it('ignores stale window counters when rate is 0 (no limit)', () => {
      const plan = planConsumption(NO_LIMITS, counters({ rateRemaining: 0, rateResetsAt: NOW_MS + 5000 }), NOW_MS);

      expect(plan).toMatchObject({ kind: 'consume', rate: 'none' });
    });
  });

  describe('quota', () => {
    it('never limits when quotaMax is -1, even with nothing remaining', () => {
      const plan = planConsumption(limits({ quotaMax: -1 }), counters({ quotaRemaining: 0 }), NOW_MS);

      expect(plan).toMatchObject({ kind: 'consume', quota: 'none' });
    });

    it('always denies when quotaMax is 0, even with a renewal due and counters left', () => {
      const plan = planConsumption(
        limits({ quotaMax: 0, quotaRenewalRate: 60 }),
        counters({ quotaRemaining: 5, quotaRenews: NOW - 100 }),
        NOW_MS,
      );

      expect(plan).toEqual({ kind: 'quota_exceeded', quotaRenews: NOW - 100 });
    });

    it('takes from the window while requests remain', () => {
      const plan = planConsumption(
        limits({ quotaMax: 10, quotaRenewalRate: 60 }),
        counters({ quotaRemaining: 1, quotaRenews: NOW + 1 }),
        NOW_MS,
      );

      expect(plan).toMatchObject({ kind: 'consume', quota: 'take' });
    });

    it('denies with quotaRenews when the window is used up and renews 1 s later', () => {
      const plan = planConsumption(
        limits({ quotaMax: 10, quotaRenewalRate: 60 }),
        counters({ quotaRemaining: 0, quotaRenews: NOW + 1 }),
        NOW_MS,
      );

      expect(plan).toEqual({ kind: 'quota_exceeded', quotaRenews: NOW + 1 });
    });

    it('opens a new window exactly at quotaRenews (now >= renews), with quotaMax - 1 left', () => {
      const plan = planConsumption(
        limits({ quotaMax: 10, quotaRenewalRate: 60 }),
        counters({ quotaRemaining: 0, quotaRenews: NOW }),
        NOW_MS,
      );

      expect(plan).toMatchObject({
        kind: 'consume',
        quota: 'open',
        quotaRemainingAfterOpen: 9,
        quotaRenews: NOW + 60,
      });
    });

    it('compares the quota window in whole seconds (999 ms into the renewal second still renews)', () => {
      const plan = planConsumption(
        limits({ quotaMax: 10, quotaRenewalRate: 60 }),
        counters({ quotaRemaining: 0, quotaRenews: NOW }),
        NOW_MS + 999,
      );

      expect(plan).toMatchObject({ kind: 'consume', quota: 'open', quotaRenews: NOW + 60 });
    });

    it('never renews when quotaRenewalRate is 0, however long ago quotaRenews was', () => {
      const plan = planConsumption(
        limits({ quotaMax: 10, quotaRenewalRate: 0 }),
        counters({ quotaRemaining: 0, quotaRenews: 0 }),
        NOW_MS,
      );

      expect(plan).toEqual({ kind: 'quota_exceeded', quotaRenews: 0 });
    });

    it('takes from a quota that never renews while requests remain', () => {
      const plan = planConsumption(
        limits({ quotaMax: 10, quotaRenewalRate: 0 }),
        counters({ quotaRemaining: 4, quotaRenews: 0 }),
        NOW_MS,
      );

      expect(plan).toMatchObject({ kind: 'consume', quota: 'take' });
    });
  });

  describe('rate limit and quota together', () => {
    it('denies for the rate limit before looking at an exhausted quota', () => {
      const plan = planConsumption(
        limits({ rate: 1, per: 10, quotaMax: 5, quotaRenewalRate: 60 }),
        counters({ rateRemaining: 0, rateResetsAt: NOW_MS + 1000, quotaRemaining: 0, quotaRenews: NOW + 30 }),
        NOW_MS,
      );

      expect(plan.kind).toBe('rate_limited');
    });

    it('denies for the rate limit before looking at a quota of 0', () => {
      const plan = planConsumption(
        limits({ rate: 1, per: 10, quotaMax: 0 }),
        counters({ rateRemaining: 0, rateResetsAt: NOW_MS + 1000 }),
        NOW_MS,
      );

      expect(plan.kind).toBe('rate_limited');
    });

    it('denies for the quota without planning to take from the rate window (a denial consumes nothing)', () => {
      const plan = planConsumption(
        limits({ rate: 5, per: 10, quotaMax: 5, quotaRenewalRate: 60 }),
        counters({ rateRemaining: 3, rateResetsAt: NOW_MS + 1000, quotaRemaining: 0, quotaRenews: NOW + 30 }),
        NOW_MS,
      );

      expect(plan).toEqual({ kind: 'quota_exceeded', quotaRenews: NOW + 30 });
    });

    it('plans both steps in one consumption when both allow', () => {
      const plan = planConsumption(
        limits({ rate: 5, per: 10, quotaMax: 5, quotaRenewalRate: 60 }),
        counters({ rateRemaining: 3, rateResetsAt: NOW_MS + 1000, quotaRemaining: 2, quotaRenews: NOW + 30 }),
        NOW_MS,
      );

      expect(plan).toMatchObject({ kind: 'consume', rate: 'take', quota: 'take' });
    });
  });

  describe('limits changed since the counters were written (forced opens)', () => {
    const now = limits({ rate: 5, per: 10, quotaMax: 10, quotaRenewalRate: 60 });
    const openWindows = counters({ rateRemaining: 2, rateResetsAt: NOW_MS + 4000, quotaRemaining: 3, quotaRenews: NOW + 30 });

    it('takes from both open windows, forcing nothing, when the armed limits equal the limits in force', () => {
      const plan = planConsumption(now, openWindows, NOW_MS, { ...now });

      expect(plan).toMatchObject({ kind: 'consume', rate: 'take', quota: 'take', rateForced: false, quotaForced: false });
    });

    it('forces nothing when no armed limits are given', () => {
      const plan = planConsumption(now, openWindows, NOW_MS);

      expect(plan).toMatchObject({ kind: 'consume', rate: 'take', quota: 'take', rateForced: false, quotaForced: false });
    });

    it.each([
      ['rate', { rate: 9 }],
      ['per', { per: 1 }],
      ['rate and per', { rate: 50, per: 100 }],
    ])('opens the rate window although it is open when the armed %s differs (rateForced)', (_field, armed) => {
      const plan = planConsumption(now, openWindows, NOW_MS, { ...now, ...armed });

      expect(plan).toMatchObject({
        kind: 'consume',
        rate: 'open',
        rateForced: true,
        rateRemainingAfterOpen: 4,
        rateResetsAt: NOW_MS + 10_000,
        quota: 'take',
        quotaForced: false,
      });
    });

    it('opens the rate window instead of denying rate_limited when an empty open window was counted under other limits', () => {
      const plan = planConsumption(now, counters({ rateRemaining: 0, rateResetsAt: NOW_MS + 4000, quotaRemaining: 3, quotaRenews: NOW + 30 }), NOW_MS, { ...now, rate: 1 });

      expect(plan).toMatchObject({ kind: 'consume', rate: 'open', rateForced: true });
    });

    it.each([
      ['quotaMax', { quotaMax: 100 }],
      ['quotaRenewalRate', { quotaRenewalRate: 3600 }],
      ['quotaMax (from unlimited)', { quotaMax: -1 }],
    ])('opens the quota window although it is open when the armed %s differs (quotaForced)', (_field, armed) => {
      const plan = planConsumption(now, openWindows, NOW_MS, { ...now, ...armed });

      expect(plan).toMatchObject({
        kind: 'consume',
        rate: 'take',
        rateForced: false,
        quota: 'open',
        quotaForced: true,
        quotaRemainingAfterOpen: 9,
        quotaRenews: NOW + 60,
      });
    });

    it('opens the quota window instead of denying quota_exceeded when the used-up window was counted under other limits', () => {
      const plan = planConsumption(now, counters({ quotaRemaining: 0, quotaRenews: NOW + 30 }), NOW_MS, { ...now, quotaMax: 2 });

      expect(plan).toMatchObject({ kind: 'consume', quota: 'open', quotaForced: true, quotaRemainingAfterOpen: 9 });
    });

    it('opens a quota that never renews when its quotaMax changed', () => {
      const never = limits({ quotaMax: 10, quotaRenewalRate: 0 });

      const plan = planConsumption(never, counters({ quotaRemaining: 0, quotaRenews: 0 }), NOW_MS, { ...never, quotaMax: 5 });

      expect(plan).toMatchObject({ kind: 'consume', quota: 'open', quotaForced: true, quotaRemainingAfterOpen: 9, quotaRenews: NOW });
    });

    it('forces both windows when both pairs differ', () => {
      const plan = planConsumption(now, openWindows, NOW_MS, NO_LIMITS);

      expect(plan).toMatchObject({ kind: 'consume', rate: 'open', rateForced: true, quota: 'open', quotaForced: true });
    });

    it('reports a window that opens because it closed as not forced', () => {
      const closed = counters({ rateRemaining: 0, rateResetsAt: NOW_MS, quotaRemaining: 0, quotaRenews: NOW });

      const plan = planConsumption(now, closed, NOW_MS, { ...now });

      expect(plan).toMatchObject({ kind: 'consume', rate: 'open', rateForced: false, quota: 'open', quotaForced: false });
    });

    it('forces nothing for a limit that is now off, whatever the armed limits were', () => {
      const plan = planConsumption(NO_LIMITS, openWindows, NOW_MS, now);

      expect(plan).toMatchObject({ kind: 'consume', rate: 'none', quota: 'none', rateForced: false, quotaForced: false });
    });

    it('still denies quota_exceeded for a quotaMax of 0, even when the armed quota differs', () => {
      const plan = planConsumption(limits({ quotaMax: 0 }), counters({ quotaRemaining: 5, quotaRenews: NOW + 30 }), NOW_MS, { ...NO_LIMITS, quotaMax: 10 });

      expect(plan).toEqual({ kind: 'quota_exceeded', quotaRenews: NOW + 30 });
    });
  });

  describe('against a reference model (property)', () => {
    const limitsArb = fc.record({
      rate: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })),
      per: fc.integer({ min: 1, max: 3600 }),
      quotaMax: fc.oneof(fc.constantFrom(-1, 0), fc.integer({ min: 1, max: 1000 })),
      quotaRenewalRate: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 86_400 })),
    });
    const nowMsArb = fc.integer({ min: NOW_MS - 100_000, max: NOW_MS + 100_000 });
    const countersArb = fc.record(
      {
        quotaRemaining: fc.integer({ min: -1, max: 1000 }),
        quotaRenews: fc.oneof(fc.constant(0), fc.integer({ min: NOW - 200, max: NOW + 200 })),
        rateRemaining: fc.integer({ min: -1, max: 100 }),
        rateResetsAt: fc.integer({ min: NOW_MS - 100_000, max: NOW_MS + 100_000 }),
      },
      { requiredKeys: ['quotaRemaining', 'quotaRenews'] },
    );

    it('never takes from an empty or closed window, and denies exactly when the reference says so', () => {
      fc.assert(
        fc.property(limitsArb, countersArb, nowMsArb, (lim, ctr, nowMs) => {
          const now = Math.floor(nowMs / 1000);
          const rateOpen = lim.rate > 0 && ctr.rateResetsAt !== undefined && ctr.rateResetsAt > nowMs;
          const rateDenied = rateOpen && (ctr.rateRemaining ?? 0) <= 0;
          const quotaRenewsNow = lim.quotaMax > 0 && lim.quotaRenewalRate > 0 && now >= ctr.quotaRenews;
          const quotaDenied = lim.quotaMax === 0 || (lim.quotaMax > 0 && !quotaRenewsNow && ctr.quotaRemaining <= 0);

          const plan = planConsumption(lim, ctr, nowMs);

          if (rateDenied) {
            expect(plan.kind).toBe('rate_limited');
            if (plan.kind === 'rate_limited') {
              expect(plan.retryAfter).toBeGreaterThanOrEqual(1);
              expect(Number.isInteger(plan.retryAfter)).toBe(true);
              expect(plan.retryAfter * 1000).toBeGreaterThanOrEqual(ctr.rateResetsAt! - nowMs);
            }
            return;
          }
          if (quotaDenied) {
            expect(plan).toEqual({ kind: 'quota_exceeded', quotaRenews: ctr.quotaRenews });
            return;
          }
          expect(plan.kind).toBe('consume');
          if (plan.kind !== 'consume') return;
          expect(plan.rate).toBe(lim.rate === 0 ? 'none' : rateOpen ? 'take' : 'open');
          expect(plan.quota).toBe(lim.quotaMax < 0 ? 'none' : quotaRenewsNow ? 'open' : 'take');
          if (plan.rate === 'take') expect(ctr.rateRemaining ?? 0).toBeGreaterThan(0);
          if (plan.quota === 'take') expect(ctr.quotaRemaining).toBeGreaterThan(0);
          if (plan.rate === 'open') {
            expect(plan.rateRemainingAfterOpen).toBe(lim.rate - 1);
            expect(plan.rateResetsAt).toBe(nowMs + lim.per * 1000);
          }
          if (plan.quota === 'open') {
            expect(plan.quotaRemainingAfterOpen).toBe(lim.quotaMax - 1);
            expect(plan.quotaRenews).toBe(now + lim.quotaRenewalRate);
          }
        }),
        { numRuns: 2000 },
      );
    });

    it('plans exactly as without armed limits when the armed limits equal the limits in force', () => {
      fc.assert(
        fc.property(limitsArb, countersArb, nowMsArb, (lim, ctr, nowMs) => {
          expect(planConsumption(lim, ctr, nowMs, { ...lim })).toEqual(planConsumption(lim, ctr, nowMs));
        }),
        { numRuns: 500 },
      );
    });
  });
});
