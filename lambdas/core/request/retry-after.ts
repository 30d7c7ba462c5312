import type { Limits } from '../limits/limits.ts';

/**
 * The `retryAfter` (seconds) of a `quota_exceeded` denial: the time until the quota window
 * renews, at least 1. Nothing when waiting would not help — a quota that never renews
 * (`quotaRenewalRate` 0) or that allows no requests at all (`quotaMax` 0) — so a client is
 * never told to come back for an answer that will not change.
 *
 * @example
 * quotaRetryAfter({ rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 3600 }, 1_700_000_100, 1_700_000_000_500);
 * // { retryAfter: 100 }
 */
export function quotaRetryAfter(limits: Limits, quotaRenews: number, nowMs: number): { retryAfter?: number } {
  if (limits.quotaMax <= 0 || limits.quotaRenewalRate <= 0 || quotaRenews * 1000 <= nowMs) return {};
  return { retryAfter: Math.max(1, Math.ceil((quotaRenews * 1000 - nowMs) / 1000)) };
}
