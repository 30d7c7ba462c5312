import { describe, expect, it } from 'vitest';
import { ContentionError } from '../../../lambdas/core/model/errors.ts';
import { BusyBudget, LAST_COUNT_MS } from '../../../lambdas/core/request/busy-budget.ts';

describe('BusyBudget', () => {
  it('pauses more each time, never past its end, leaves the last count its time, then fails closed', async () => {
    const budget = new BusyBudget(200);
    const pauses: number[] = [];
    let error: unknown;
    let lastEnded = 0;
    for (let i = 0; i < 20 && error === undefined; i++) {
      const before = performance.now();
      await budget.wait().catch((e: unknown) => {
        error = e;
      });
      if (error === undefined) {
        lastEnded = performance.now();
        pauses.push(lastEnded - before);
      }
    }
    expect(error).toBeInstanceOf(ContentionError);
    // 15 ms doubling (±50 %): a handful of counts fit in 200 ms, not dozens.
    expect(pauses.length).toBeGreaterThanOrEqual(2);
    expect(pauses.length).toBeLessThanOrEqual(6);
    expect(pauses[1]!).toBeGreaterThan(pauses[0]! / 2);
    // The last pause ends at the budget's end, not after it (timer slack aside), and the count after it still has
    // LAST_COUNT_MS to take its steps.
    expect(budget.until - lastEnded).toBeGreaterThan(LAST_COUNT_MS - 100);
    expect(budget.until - lastEnded).toBeLessThanOrEqual(LAST_COUNT_MS);
  });
});
