import { ContentionError } from '../model/errors.ts';

/** Time a decision may spend starting counts again on a hot key's busy counter items. */
export const BUSY_BUDGET_MS = 1500;

/** Time a count has for its steps, at least (a count started within the budget: until the budget's end and this). */
export const LAST_COUNT_MS = 250;

/**
 * The budget of one decision for counting again on a hot key's busy counter items
 * (docs/ARCHITECTURE.md, "Throttling absorbed"): each count again comes after a pause that
 * doubles (15 ms, 30 ms, 60 ms… ±50 %), so that a short busy spell is ridden out with few
 * writes. No pause ends past the budget's end, and a count that started within the budget
 * is always followed by another: so a busy spell that ends within the budget is always tried
 * after it ends. Once a count that started past the budget's end is busy, the decision fails
 * closed: by the budget, two counts' {@link LAST_COUNT_MS} and their last steps.
 */
export class BusyBudget {
  /** No pause ends past it (a `performance.now()` time): the budget's end. */
  readonly #end: number;
  /** When the last count started. */
  #started = Number.NEGATIVE_INFINITY;
  #counts = 0;

  constructor(ms = BUSY_BUDGET_MS) {
    this.#end = performance.now() + ms;
  }

  /** A count starts now: returns the time (`performance.now()`) past which it starts no step. */
  count(): number {
    this.#started = performance.now();
    return Math.max(this.#end, this.#started) + LAST_COUNT_MS;
  }

  /** Waits before the next count; throws {@link ContentionError} when the last count started past the budget's end. */
  async wait(): Promise<void> {
    if (this.#started > this.#end) throw new ContentionError('counter items stayed busy');
    const left = Math.max(0, this.#end - performance.now());
    const pause = 15 * 2 ** this.#counts++ * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, pause)));
  }
}
