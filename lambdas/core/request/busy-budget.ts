import { ContentionError } from '../model/errors.ts';

/** Time a decision may spend pausing before it counts again on a hot key's busy counter items. */
export const BUSY_BUDGET_MS = 1500;

/** Time the count after the budget's last pause has for its steps: the decision ends by budget + this (well within a Lambda's 3 s). */
export const LAST_COUNT_MS = 250;

/**
 * The budget of one decision for counting again on a hot key's busy counter items
 * (docs/ARCHITECTURE.md, "Throttling absorbed"): each count again comes after a pause that
 * doubles (15 ms, 30 ms, 60 ms… ±50 %), so that a short busy spell is ridden out with few
 * writes. No pause goes past the budget's end, and every pause is followed by a count, which
 * may take steps for {@link LAST_COUNT_MS} more: a busy spell that ends within the budget is
 * tried after it ends. Once a pause would start past the budget's end, the decision fails closed.
 */
export class BusyBudget {
  /** No count step starts past it (a `performance.now()` time): the budget's end and the last count's time. */
  readonly until: number;
  /** No pause ends past it: the budget's end. */
  readonly #pausesEnd: number;
  #counts = 0;

  constructor(ms = BUSY_BUDGET_MS) {
    this.#pausesEnd = performance.now() + ms;
    this.until = this.#pausesEnd + LAST_COUNT_MS;
  }

  /** Waits before the next count; throws {@link ContentionError} when the budget is spent. */
  async wait(): Promise<void> {
    const left = this.#pausesEnd - performance.now();
    if (left <= 0) throw new ContentionError('counter items stayed busy');
    const pause = 15 * 2 ** this.#counts++ * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, pause)));
  }
}
