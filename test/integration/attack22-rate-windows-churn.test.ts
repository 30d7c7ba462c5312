import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleCountingWrites } from '../support/throttles.ts';

/**
 * Attack22: rate windows on a hot key under busy retries and coolings. Two instances share a
 * clock that jumps 61 s every 300 ms: each jump opens a new window of the rate (20 per 60 s) and
 * makes the counter items cooled (coolings halve them). A third of the counting writes and of
 * the session item's reads are throttled table-wide, so counts end busy and are counted again on
 * the counter items they last saw. Expected: no window (requests started and answered in it)
 * allows more than 20.
 * Held (4 runs, new and parent): at most 9–18 a window; 5–20 faults a run ("counter items stayed
 * busy", "table throttled") on both.
 */
describe('attack22 (held): rate windows under busy retries and coolings', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a22-rate-churn');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('allows at most the rate in each window', async () => {
    let offset = 0;
    let window = 0;
    const clock = () => Date.now() + offset;
    let throttling = false;
    const mk = () => {
      const c = lambdaClient();
      throttleCountingWrites(c, 0.35, { sessionReads: true, when: () => throttling });
      return c;
    };
    const a = pipelineOn(mk(), table.tableName, { clock });
    const b = pipelineOn(mk(), table.tableName, { clock });
    const { key, keyId } = await a.keys.create({ rate: 20, per: 60 });
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 8);
    throttling = true;
    const until = Date.now() + 5000;
    const ticker = setInterval(() => {
      offset += COOL_MS + 1000;
      window++;
    }, 300);
    const perWindow = new Map<number, number>();
    let spanning = 0;
    let faults = 0;
    const errs: Record<string, number> = {};
    let denied = 0;
    await Promise.all(
      [a, b].flatMap((p) =>
        Array.from({ length: 6 }, async () => {
          while (Date.now() < until) {
            const w = window;
            const answer = await p.pipeline.authorize(requestWith(key)).catch((e: Error) => e);
            if (answer instanceof Error) {
              faults++;
              errs[answer.message] = (errs[answer.message] ?? 0) + 1;
            } else if (!answer.allow) denied++;
            else if (window !== w) spanning++;
            else perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
          }
        }),
      ),
    );
    clearInterval(ticker);
    throttling = false;
    const counts = [...perWindow.values()];
    const summary = JSON.stringify({ windows: perWindow.size, max: Math.max(...counts), counts, spanning, faults, errs, denied });
    expect(Math.max(...counts), summary).toBeLessThanOrEqual(20);
  }, 30_000);
});
