import { ContentionError } from '../../lambdas/core/model/errors.ts';

/**
 * The busy budget as f464d93 left it (before 310c0a4): pauses end by the budget's end, every count's steps by the
 * budget's end + LAST_COUNT_MS (one fixed limit for the whole decision), and no count follows one still busy at the
 * end. For comparison runs of the attack29 tests: `ATK29_BUDGET=f464 npx vitest run …` (`old`: before f464d93).
 */
export const BUSY_BUDGET_MS = 1500;
export const LAST_COUNT_MS = 250;

export class BusyBudget {
  readonly until: number;
  readonly #pausesEnd: number;
  #counts = 0;

  constructor(ms = BUSY_BUDGET_MS) {
    this.#pausesEnd = performance.now() + ms;
    this.until = this.#pausesEnd + LAST_COUNT_MS;
  }

  count(): number {
    return this.until;
  }

  async wait(): Promise<void> {
    const left = this.#pausesEnd - performance.now();
    if (left <= 0) throw new ContentionError('counter items stayed busy');
    const pause = 15 * 2 ** this.#counts++ * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, pause)));
  }
}
