/** What a history exercised, for the closing line. */
export interface HistoryStats {
  authorizations: number;
  jwtAuthorizations: number;
  hookRequests: number;
  cleanBatches: number;
  batches: number;
  failedClosed: number;
  policyWrites: number;
  twoPolicyKeys: number;
  scopeWrites: number;
  scopedAllows: number;
  resets: number;
  recreations: number;
  /** DELETEs re-sent with the If-Match of the life they deleted, after it was created again. */
  resentDeletes: number;
  /** Keys ended by their TTL (the session item deleted, nothing else written) before being created again. */
  ttlEnds: number;
  heldResets: number;
  lostAdminAnswers: number;
  /** Histories under a throughput ceiling, those where a key spread, and what their keys did (read after batches). */
  hotHistories: number;
  spreadHistories: number;
  spreads: number;
  growths: number;
  shrinks: number;
  /** Requests that failed closed in histories under a ceiling. */
  hotFaults: number;
  /** Held requests (held-requests.ts), those whose write was parked, and of those the fills and coolings. */
  heldRequests: number;
  parkedWrites: number;
  parkedFills: number;
  parkedCoolings: number;
  /** Parked fills that landed once let go (their condition held after the steps held across). */
  landedFills: number;
}

/** Every count at 0: one history's start, and the totals' over many. */
export function emptyStats(): HistoryStats {
  return {
    authorizations: 0,
    jwtAuthorizations: 0,
    hookRequests: 0,
    cleanBatches: 0,
    batches: 0,
    failedClosed: 0,
    policyWrites: 0,
    twoPolicyKeys: 0,
    scopeWrites: 0,
    scopedAllows: 0,
    resets: 0,
    recreations: 0,
    resentDeletes: 0,
    ttlEnds: 0,
    heldResets: 0,
    lostAdminAnswers: 0,
    hotHistories: 0,
    spreadHistories: 0,
    spreads: 0,
    growths: 0,
    shrinks: 0,
    hotFaults: 0,
    heldRequests: 0,
    parkedWrites: 0,
    parkedFills: 0,
    parkedCoolings: 0,
    landedFills: 0,
  };
}
