import { ContentionError } from '../../lambdas/core/model/errors.ts';

/**
 * The busy budget as it was before f464d93 (its end is both where pauses and count steps end, and no count follows one
 * still busy there), for
 * comparison runs of the attack27 tests: `ATK27_OLD=1 npx vitest run …` mocks busy-budget.ts with it.
 */
export const BUSY_BUDGET_MS = 1500;
export const LAST_COUNT_MS = 0;

/** A past busy budget: pauses end by its end, every count's steps `lastCountMs` after it; no count follows one still busy at the end. */
export function pastBusyBudget(lastCountMs: number) {
  return class BusyBudget {
    readonly until: number;
    readonly #pausesEnd: number;
    #counts = 0;

    constructor(ms = BUSY_BUDGET_MS) {
      this.#pausesEnd = performance.now() + ms;
      this.until = this.#pausesEnd + lastCountMs;
    }

    /** A count's step limit: the budget's end + `lastCountMs` (the pipeline asks it before each count). */
    count(): number {
      return this.until;
    }

    async wait(): Promise<void> {
      const left = this.#pausesEnd - performance.now();
      if (left <= 0) throw new ContentionError('counter items stayed busy');
      const pause = 15 * 2 ** this.#counts++ * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, pause)));
    }
  };
}

export const BusyBudget = pastBusyBudget(LAST_COUNT_MS);
