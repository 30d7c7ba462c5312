import { BUSY_BUDGET_MS, pastBusyBudget } from './attack27-old-budget.ts';

/**
 * The busy budget as f464d93 left it (before 310c0a4): pauses end by the budget's end, every count's steps by the
 * budget's end + LAST_COUNT_MS (one fixed limit for the whole decision), and no count follows one still busy at the
 * end. For comparison runs of the attack29 tests: `ATK29_BUDGET=f464 npx vitest run …` (`old`: before f464d93).
 */
export { BUSY_BUDGET_MS };
export const LAST_COUNT_MS = 250;

export const BusyBudget = pastBusyBudget(LAST_COUNT_MS);
