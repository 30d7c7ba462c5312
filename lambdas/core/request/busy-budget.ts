import { ContentionError } from '../model/errors.ts';

/** Time a decision may spend starting counts again on a hot key's busy counter items. */
export const BUSY_BUDGET_MS = 1500;

/** Time count steps may still start after the budget's end: the count running at its end, and the one after it. */
export const LAST_COUNT_MS = 250;

/**
 * The budget of one request for counting again on a hot key's busy counter items
 * (docs/ARCHITECTURE.md, "Throttling absorbed"), counted from the request's start (made when
 * the pipeline starts it), so that its hooks' time is in it: each count again comes after a
 * pause that doubles (15 ms, 30 ms, 60 ms… ±50 %), so that a short busy spell is ridden out
 * with few writes. No pause ends past the budget's end, and a count that started within the
 * budget is always followed by another; count steps start until {@link LAST_COUNT_MS} past the
 * end. So a busy spell that ends within the budget is tried after it ends, unless the count
 * running at the budget's end is still taking steps 250 ms past it. Once a count that started
 * past the budget's end is busy, the decision fails closed: no step starts past 1.75 s.
 *
 * But the request always gets its first count: when hooks took the budget (the first count
 * starts past its end), the budget ends {@link LAST_COUNT_MS} after that count's start (pauses
 * and counts until then, their steps until {@link LAST_COUNT_MS} more). A request that meets
 * nothing busy is not refused for slow hooks. `postAuth` hooks run again (a settings change
 * met by a count) only while count steps may start ({@link BusyBudget.open}), and no re-run
 * gives the budget a new end: at most one re-run ends past it.
 */
export class BusyBudget {
  /** No pause ends past it (a `performance.now()` time): the budget's end. */
  #end: number;
  /** When the last count started. */
  #started = Number.NEGATIVE_INFINITY;
  #counts = 0;
  /** The next count is the request's first. */
  #first = true;

  constructor(ms = BUSY_BUDGET_MS) {
    this.#end = performance.now() + ms;
  }

  /** Whether count steps may still start now (and so `postAuth` hooks run again). */
  open(): boolean {
    return performance.now() < this.#end + LAST_COUNT_MS;
  }

  /** A count starts now: returns the time (`performance.now()`) past which it starts no step. */
  count(): number {
    this.#started = performance.now();
    if (this.#first && this.#started > this.#end) this.#end = this.#started + LAST_COUNT_MS;
    this.#first = false;
    return this.#end + LAST_COUNT_MS;
  }

  /** Waits before the next count; throws {@link ContentionError} when the last count started past the budget's end. */
  async wait(): Promise<void> {
    if (this.#started > this.#end) throw new ContentionError('counter items stayed busy');
    const left = Math.max(0, this.#end - performance.now());
    const pause = 15 * 2 ** this.#counts++ * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, pause)));
  }
}
