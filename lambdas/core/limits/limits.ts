/**
 * Rate limit and quota as pure functions. Counters hold requests *used* in the current
 * window; the limit is applied when a request is decided, so a change of limits never
 * needs a change of counters. `planCount` says how one request would be counted; the store
 * turns the plan into one conditional UpdateItem whose condition is exactly what the plan
 * assumed (see `store/count-write.ts` and docs/ARCHITECTURE.md, "The counting model").
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

/** One scope's counters, as stored. Absent values mean "no window yet". */
export interface Counters {
  /** Requests counted in the quota window. */
  readonly quotaUsed?: number;
  /** Epoch seconds at which the quota window ends. */
  readonly quotaRenews?: number;
  /** Requests counted in the open rate window. */
  readonly rateUsed?: number;
  /** Epoch milliseconds at which the rate window ends. */
  readonly rateResetsAt?: number;
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
  /** Epoch ms the plan was made at: the time every guard and new window end is measured from. */
  readonly nowMs: number;
}

export type LimitVerdict =
  | { readonly kind: 'count'; readonly plan: CountPlan }
  | { readonly kind: 'rate_limited'; readonly retryAfter: number }
  | { readonly kind: 'quota_exceeded'; readonly quotaRenews: number };

/**
 * Plans the counting of one request at `nowMs`, in Tyk's order: rate limit, then quota.
 * With `counters` undefined (not known: the session's settings were remembered, its
 * counters are never), each limited counter is planned as a `take`; the write's condition
 * then checks what was assumed, and a failed write returns the counters for an exact plan.
 *
 * @example
 * planCount({ rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 60 }, { quotaUsed: 10, quotaRenews: 2e9 }, Date.now());
 * // { kind: 'quota_exceeded', quotaRenews: 2000000000 }
 */
export function planCount(limits: Limits, counters: Counters | undefined, nowMs: number): LimitVerdict {
  const now = Math.floor(nowMs / 1000);

  let rate: Step = 'none';
  if (limits.rate > 0) {
    if (counters === undefined) rate = 'take';
    else if (!rateWindowOpen(counters, nowMs)) rate = 'open';
    else if ((counters.rateUsed ?? 0) < limits.rate) rate = 'take';
    else return { kind: 'rate_limited', retryAfter: Math.max(1, Math.ceil((counters.rateResetsAt! - nowMs) / 1000)) };
  }

  let quota: Step = 'none';
  if (limits.quotaMax === 0) return { kind: 'quota_exceeded', quotaRenews: counters?.quotaRenews ?? 0 };
  if (limits.quotaMax > 0) {
    if (counters === undefined) quota = 'take';
    else if (!quotaWindowOpen(limits, counters, now)) quota = 'open';
    else if ((counters.quotaUsed ?? 0) < limits.quotaMax) quota = 'take';
    else return { kind: 'quota_exceeded', quotaRenews: counters.quotaRenews ?? 0 };
  }
  return { kind: 'count', plan: { limits, rate, quota, nowMs } };
}

/** True when the plan writes nothing: no rate limit and an unlimited quota. */
export function countsNothing(plan: CountPlan): boolean {
  return plan.rate === 'none' && plan.quota === 'none';
}

/** The rate window is open while its end is in the future. */
function rateWindowOpen(counters: Counters, nowMs: number): boolean {
  return counters.rateResetsAt !== undefined && counters.rateResetsAt > nowMs;
}

/** A quota that never renews has one window forever; a renewing one ends at `quotaRenews`. */
function quotaWindowOpen(limits: Limits, counters: Counters, now: number): boolean {
  if (limits.quotaRenewalRate === 0) return true;
  return counters.quotaRenews !== undefined && counters.quotaRenews > now;
}

/** Requests left in the quota window at `now`: -1 when unlimited, the whole quota once the window is over. */
export function quotaRemaining(limits: Limits, counters: Counters, now: number): number {
  if (limits.quotaMax < 0) return -1;
  if (!quotaWindowOpen(limits, counters, now)) return limits.quotaMax;
  return Math.max(0, limits.quotaMax - (counters.quotaUsed ?? 0));
}

/** Requests left in the rate window at `nowMs`: -1 when there is no rate limit. */
export function rateRemaining(limits: Limits, counters: Counters, nowMs: number): number {
  if (limits.rate === 0) return -1;
  if (!rateWindowOpen(counters, nowMs)) return limits.rate;
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
