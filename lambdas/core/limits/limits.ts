/**
 * Rate limit and quota, as pure functions: given the limits in force and the counters
 * as stored, decide whether a request may be consumed and how the counters change.
 * `store.ts` turns a {@link ConsumePlan} into one conditional UpdateItem whose guards
 * are exactly the assumptions made here, so a concurrent change makes the write fail
 * (and the plan is made again on the item as it now is) instead of being overwritten.
 */

/** The limits in force for a request: the session's own, or its policies'. */
export interface Limits {
  /** At most `rate` requests per window of `per` seconds; 0 = no rate limit. */
  readonly rate: number;
  readonly per: number;
  /** Requests per quota window; -1 = unlimited, 0 = none. */
  readonly quotaMax: number;
  /** Quota window length in seconds; 0 = the quota never renews. */
  readonly quotaRenewalRate: number;
}

/** The counters as stored on the session item. */
export interface Counters {
  readonly quotaRemaining: number;
  /** Epoch seconds at which the quota window resets. */
  readonly quotaRenews: number;
  /** Requests left in the open rate window; absent before the first request. */
  readonly rateRemaining?: number;
  /** Epoch milliseconds at which the open rate window closes; absent before the first request. */
  readonly rateResetsAt?: number;
}

/**
 * How one counter changes: `open` starts a new window with one request taken, `take`
 * takes one request from the open window, `none` leaves it alone (no limit).
 */
export type CounterStep = 'none' | 'open' | 'take';

export type ConsumePlan =
  | {
      readonly kind: 'consume';
      readonly rate: CounterStep;
      readonly quota: CounterStep;
      /**
       * The window opens because the limits changed, not because it ran out: the write is
       * then guarded by the counters' exact current values instead of the window's end.
       */
      readonly rateForced: boolean;
      readonly quotaForced: boolean;
      /** Values written when a window opens. */
      readonly rateRemainingAfterOpen: number;
      readonly rateResetsAt: number;
      readonly quotaRemainingAfterOpen: number;
      readonly quotaRenews: number;
    }
  | { readonly kind: 'rate_limited'; readonly retryAfter: number }
  | { readonly kind: 'quota_exceeded'; readonly quotaRenews: number };

/**
 * Plans the consumption of one request at `nowMs` (Tyk's order: rate limit, then quota).
 * A denied request consumes nothing.
 *
 * The rate limit is a fixed window that opens at the first request after the previous
 * window closed. The quota window resets at `quotaRenews`; the first request at or after
 * it opens the next window (`quotaRenews = now + quotaRenewalRate`).
 *
 * `armed` are the limits the counters were last written under (see `store.ts`): when the
 * limits in force differ — an admin or a policy changed them — the affected window starts
 * afresh instead of carrying counts made under other limits.
 */
export function planConsumption(limits: Limits, counters: Counters, nowMs: number, armed?: Limits): ConsumePlan {
  const now = Math.floor(nowMs / 1000);
  // Limits that changed since the counters were last written start new windows (Tyk
  // resets a key's quota when its limits change); the old counters mean nothing now.
  const rateForced = armed !== undefined && (armed.rate !== limits.rate || armed.per !== limits.per);
  const quotaForced =
    armed !== undefined && (armed.quotaMax !== limits.quotaMax || armed.quotaRenewalRate !== limits.quotaRenewalRate);

  let rate: CounterStep = 'none';
  if (limits.rate > 0) {
    const open = counters.rateResetsAt !== undefined && counters.rateResetsAt > nowMs;
    if (!open || rateForced) rate = 'open';
    else if ((counters.rateRemaining ?? 0) > 0) rate = 'take';
    else return { kind: 'rate_limited', retryAfter: Math.max(1, Math.ceil((counters.rateResetsAt! - nowMs) / 1000)) };
  }

  let quota: CounterStep = 'none';
  if (limits.quotaMax === 0) {
    return { kind: 'quota_exceeded', quotaRenews: counters.quotaRenews };
  }
  if (limits.quotaMax > 0) {
    const renews = limits.quotaRenewalRate > 0;
    if ((renews && now >= counters.quotaRenews) || quotaForced) quota = 'open';
    else if (counters.quotaRemaining > 0) quota = 'take';
    else return { kind: 'quota_exceeded', quotaRenews: counters.quotaRenews };
  }

  return {
    kind: 'consume',
    rate,
    quota,
    rateForced: rate === 'open' && rateForced,
    quotaForced: quota === 'open' && quotaForced,
    rateRemainingAfterOpen: limits.rate - 1,
    rateResetsAt: nowMs + limits.per * 1000,
    quotaRemainingAfterOpen: limits.quotaMax - 1,
    quotaRenews: now + limits.quotaRenewalRate,
  };
}
