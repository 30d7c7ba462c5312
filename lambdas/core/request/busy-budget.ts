import { ContentionError } from '../model/errors.ts';

/** Time a decision may spend counting again on a hot key's busy counter items before it fails closed (well within a Lambda's 3 s). */
export const BUSY_BUDGET_MS = 1500;

/**
 * The budget of one decision for counting again on a hot key's busy counter items
 * (docs/ARCHITECTURE.md, "Throttling absorbed"): each count again comes after a pause that
 * doubles (15 ms, 30 ms, 60 ms… ±50 %), so that a short busy spell is ridden out with few
 * writes; no pause and no count step goes past the budget, and once it is spent the
 * decision fails closed.
 */
export class BusyBudget {
  /** Its end, a `performance.now()` time: no count step starts past it. */
  readonly until: number;
  #counts = 0;

  constructor(ms = BUSY_BUDGET_MS) {
    this.until = performance.now() + ms;
  }

  /** Waits before the next count; throws {@link ContentionError} when the budget is spent. */
  async wait(): Promise<void> {
    const left = this.until - performance.now();
    if (left <= 0) throw new ContentionError('counter items stayed busy');
    const pause = 15 * 2 ** this.#counts++ * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, pause)));
  }
}
