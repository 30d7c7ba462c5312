import { describe, expect, it } from 'vitest';
import { ContentionError } from '../../../lambdas/core/model/errors.ts';
import { BusyBudget, LAST_COUNT_MS } from '../../../lambdas/core/request/busy-budget.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts (each taking `countMs`) and pauses until the budget says stop: when each count started and its step limit. */
async function countsUntilSpent(budget: BusyBudget, countMs: number): Promise<{ at: number; until: number }[]> {
  const counts: { at: number; until: number }[] = [];
  for (let i = 0; i < 30; i++) {
    counts.push({ at: performance.now(), until: budget.count() });
    await sleep(countMs);
    const spent = await budget.wait().then(
      () => false,
      (error: unknown) => {
        expect(error).toBeInstanceOf(ContentionError);
        return true;
      },
    );
    if (spent) return counts;
  }
  throw new Error('the budget never ran out');
}

describe('BusyBudget', () => {
  it('pauses more each time, never past its end; the count after the last pause still has time; then fails closed', async () => {
    const start = performance.now();
    const budget = new BusyBudget(200);
    const counts = await countsUntilSpent(budget, 0);
    // 15 ms doubling (±50 %): a handful of counts fit in 200 ms, not dozens.
    expect(counts.length).toBeGreaterThanOrEqual(3);
    expect(counts.length).toBeLessThanOrEqual(8);
    const last = counts.at(-1)!;
    // The last pause ends at the budget's end (timer slack aside), and the count after it still has LAST_COUNT_MS.
    expect(last.at - start).toBeGreaterThanOrEqual(199);
    expect(last.until - last.at).toBeGreaterThan(LAST_COUNT_MS - 100);
    // Every count before it started within the budget.
    for (const c of counts.slice(0, -1)) expect(c.at - start).toBeLessThan(200);
  });

  it('follows a count that started within the budget and ended past it with one more count, then fails closed', async () => {
    const start = performance.now();
    const budget = new BusyBudget(100);
    // Each count takes 80 ms: the second (started ~80–100 ms in) ends past the budget's end.
    const counts = await countsUntilSpent(budget, 80);
    const within = counts.filter((c) => c.at - start < 100);
    const after = counts.filter((c) => c.at - start >= 100);
    expect(within.length).toBeGreaterThanOrEqual(1);
    // Exactly one count starts past the end, right after the one that straddled it; every count's steps end LAST_COUNT_MS
    // past the budget's end, whenever it started (a chain of counts past the end gets no more time).
    expect(after).toHaveLength(1);
    for (const c of counts) expect(c.until - start).toBeCloseTo(100 + LAST_COUNT_MS, -1);
  });

  it('spent by hooks before the first count: the budget ends LAST_COUNT_MS after that count, steps twice that, then fails closed', async () => {
    const budget = new BusyBudget(50);
    await sleep(120); // hooks took the whole budget
    const first = performance.now();
    const counts = await countsUntilSpent(budget, 0);
    expect(counts.length).toBeGreaterThanOrEqual(2);
    for (const c of counts) expect(c.until - first).toBeCloseTo(2 * LAST_COUNT_MS, -1);
    expect(counts.at(-1)!.at - first).toBeLessThanOrEqual(LAST_COUNT_MS + 20);
  });

  it('gives only the first count more time; steps (and hooks run again) are open until the step limit', async () => {
    const budget = new BusyBudget(50);
    const start = performance.now();
    expect(budget.count() - start).toBeCloseTo(50 + LAST_COUNT_MS, -1);
    expect(budget.open()).toBe(true);
    await sleep(400); // past the budget and its last counts
    expect(budget.open()).toBe(false);
    expect(budget.count() - start).toBeCloseTo(50 + LAST_COUNT_MS, -1); // no more time
  });
});
