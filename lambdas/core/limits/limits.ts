/**
 * Rate limit and quota as pure functions. Counters hold requests *used* in the current
 * window and the time the window *started*; the limit and the window length are applied
 * when a request is decided, so a change of limits — wherever it comes from — never needs,
 * and never makes, a change of counters. `planCount` says how one request would be counted;
 * the store turns the plan into one conditional UpdateItem whose condition is exactly what
 * the plan assumed (see `store/count-write.ts` and docs/ARCHITECTURE.md, "The counting model").
 *
 * One window rule for both counters: a window is open at `now` while its length in force is
 * 0 (a quota that never renews) or `now < start + length`. The length in force always
 * measures the window in progress from its start, so a quota that never renewed and starts
 * to renew keeps its count, and a changed length moves the end of the window in progress.
 * Every time here is epoch milliseconds.
 */

/** The limits in force for a request: the session's own, its policies', or an API's own. */
export interface Limits {
  /** At most `rate` requests per window of `per` seconds; 0 = no rate limit. */
  readonly rate: number;
  readonly per: number;
  /** Requests per quota window; -1 = unlimited, 0 = none. */
  readonly quotaMax: number;
  /** Quota window length in seconds; 0 = the quota never renews. */
  readonly quotaRenewalRate: number;
}

/** One scope's counters, as stored. An absent start means "no window yet". */
export interface Counters {
  /** Requests counted in the quota window. */
  readonly quotaUsed?: number;
  /** Epoch ms at which the quota window started. */
  readonly quotaStart?: number;
  /** Requests counted in the rate window. */
  readonly rateUsed?: number;
  /** Epoch ms at which the rate window started. */
  readonly rateStart?: number;
}

/**
 * How one counter changes: `take` counts the request in the open window (guarded by
 * "still open, still room"), `open` starts a new window with the request as its first
 * (guarded by "the old window is over"), `none` leaves it alone (no limit).
 */
export type Step = 'none' | 'take' | 'open';

/** How one allowed request is counted. */
export interface CountPlan {
  readonly limits: Limits;
  readonly rate: Step;
  readonly quota: Step;
  /** Epoch ms the plan was made at: the time every guard and new window start is measured from. */
  readonly nowMs: number;
}

export type LimitVerdict =
  | { readonly kind: 'count'; readonly plan: CountPlan }
  | { readonly kind: 'rate_limited'; readonly retryAfter: number }
  | { readonly kind: 'quota_exceeded'; readonly quotaRenews: number; readonly retryAfter?: number };

/**
 * Plans the counting of one request at `nowMs`, in Tyk's order: rate limit, then quota.
 * With `counters` undefined (not known: the session's settings were remembered, its
 * counters are never), each limited counter is planned as a `take`; the write's condition
 * then checks what was assumed, and a failed write returns the counters for an exact plan.
 *
 * @example
 * planCount({ rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 60 }, { quotaUsed: 10, quotaStart: Date.now() }, Date.now());
 * // { kind: 'quota_exceeded', quotaRenews: <start + 60 s, epoch s>, retryAfter: 60 }
 */
export function planCount(limits: Limits, counters: Counters | undefined, nowMs: number): LimitVerdict {
  let rate: Step = 'none';
  if (limits.rate > 0) {
    if (counters === undefined) rate = 'take';
    else if (!windowOpen(counters.rateStart, limits.per, nowMs)) rate = 'open';
    else if ((counters.rateUsed ?? 0) < limits.rate) rate = 'take';
    else return { kind: 'rate_limited', retryAfter: secondsUntil(windowEnd(counters.rateStart!, limits.per), nowMs) };
  }

  let quota: Step = 'none';
  if (limits.quotaMax === 0) return quotaExceeded(limits, counters ?? {}, nowMs);
  if (limits.quotaMax > 0) {
    if (counters === undefined) quota = 'take';
    else if (!windowOpen(counters.quotaStart, limits.quotaRenewalRate, nowMs)) quota = 'open';
    else if ((counters.quotaUsed ?? 0) < limits.quotaMax) quota = 'take';
    else return quotaExceeded(limits, counters, nowMs);
  }
  return { kind: 'count', plan: { limits, rate, quota, nowMs } };
}

/**
 * A quota denial, with `retryAfter` (until the window's exact end) only when waiting helps:
 * not for a quota that never renews, nor for one that allows nothing at all (`quotaMax` 0).
 */
function quotaExceeded(limits: Limits, counters: Counters, nowMs: number): LimitVerdict {
  const renews = quotaRenews(limits, counters);
  if (renews === 0 || limits.quotaMax <= 0) return { kind: 'quota_exceeded', quotaRenews: renews };
  const retryAfter = secondsUntil(windowEnd(counters.quotaStart!, limits.quotaRenewalRate), nowMs);
  return { kind: 'quota_exceeded', quotaRenews: renews, retryAfter };
}

/** True when the plan writes nothing: no rate limit and an unlimited quota. */
export function countsNothing(plan: CountPlan): boolean {
  return plan.rate === 'none' && plan.quota === 'none';
}

/**
 * THE window rule: a window that started at `start` (epoch ms) is open at `nowMs` while its
 * length in force, `lengthSeconds`, is 0 (it never ends) or `nowMs < start + length`.
 */
export function windowOpen(start: number | undefined, lengthSeconds: number, nowMs: number): boolean {
  if (start === undefined) return false;
  return lengthSeconds === 0 || nowMs < windowEnd(start, lengthSeconds);
}

/** Epoch ms at which a window that started at `start` ends under the length in force. */
export function windowEnd(start: number, lengthSeconds: number): number {
  return start + lengthSeconds * 1000;
}

/** Whole seconds from `nowMs` until `atMs`, at least 1. */
function secondsUntil(atMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((atMs - nowMs) / 1000));
}

/**
 * When the quota window renews (epoch s, rounded up): its start plus the renewal rate in
 * force; 0 when the quota never renews or no window has started.
 */
export function quotaRenews(limits: Limits, counters: Counters): number {
  if (limits.quotaRenewalRate === 0 || counters.quotaStart === undefined) return 0;
  return Math.ceil(windowEnd(counters.quotaStart, limits.quotaRenewalRate) / 1000);
}

/** The quota window start that makes it renew at `renews` (epoch s) under the renewal rate in force. */
export function quotaStartFor(renews: number, quotaRenewalRate: number): number {
  return (renews - quotaRenewalRate) * 1000;
}

/** Requests left in the quota window at `nowMs`: -1 when unlimited, the whole quota once the window is over. */
export function quotaRemaining(limits: Limits, counters: Counters, nowMs: number): number {
  if (limits.quotaMax < 0) return -1;
  if (!windowOpen(counters.quotaStart, limits.quotaRenewalRate, nowMs)) return limits.quotaMax;
  return Math.max(0, limits.quotaMax - (counters.quotaUsed ?? 0));
}

/** Requests left in the rate window at `nowMs`: -1 when there is no rate limit. */
export function rateRemaining(limits: Limits, counters: Counters, nowMs: number): number {
  if (limits.rate === 0) return -1;
  if (!windowOpen(counters.rateStart, limits.per, nowMs)) return limits.rate;
  return Math.max(0, limits.rate - (counters.rateUsed ?? 0));
}

/**
 * The quota counter that makes `remaining` requests left under `quotaMax`: what an admin
 * or a plugin means by setting `quotaRemaining`. An unlimited quota counts nothing.
 */
export function quotaUsedFor(quotaMax: number, remaining: number): number {
  if (quotaMax <= 0) return 0;
  return Math.max(0, quotaMax - Math.max(0, remaining));
}
