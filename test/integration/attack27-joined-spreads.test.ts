import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BUSY_BUDGET_MS, LAST_COUNT_MS } from '../../lambdas/core/request/busy-budget.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

vi.mock('../../lambdas/core/request/busy-budget.ts', async (original) => (await import('./budget-stand-ins.ts')).budgetUnderTest(original));

/**
 * Fixed: a request waits for a spread another request started only until its own budget ends (OncePerKey.run's `until`).
 *
 * Attack27 (claim: "the decision fails closed by 1.75 s and one step"): a cold key (shards 0) whose
 * session item's UpdateItems stay throttled; requests arrive on one instance every `gap` ms for 2 s.
 * A request finds the key heating and waits for the spread another request started (bounded by
 * *that* request's budget and 10 attempts), then counts on the session item (throttled) and joins
 * whatever spread is running now — started by a later request, with a later end. How long does the
 * slowest request take?
 * Found (time overrun, not introduced by f464d93): with the pauses' upper draw (Math.random pinned near 1)
 * the request that arrived 100 ms after the first waited for the first's spread (~1.3 s), counted on
 * the session item, and joined a spread a later request had just started: 2467, 2541, 2480 ms (three
 * runs) — 0.7 s past "1.75 s and one step", 0.5 s short of the Lambda's 3 s. Before f464d93: 2469, 2483,
 * 2488 ms (so pre-existing). The rest of the requests: 1.75–1.80 s now, 1.52–1.54 s before (the +250 ms
 * the change allows). With random pauses: 1.59 s now (the chain needs the right timing).
 * Suggested fix: a request joins a spread only until its own budget's end (race the shared promise
 * against its `until`), or does not start/join a second spread after one it waited for failed.
 */
describe("attack27: requests of one instance joining one another's spreads", () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a27-joined-spreads');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const [pin, latency] of [
    [undefined, 0],
    [0.999, 0],
  ] as const)
    it(`every request ends by the budget + one step (pauses ${pin === undefined ? 'random' : 'upper draw'}, throttles answered after ${latency} ms)`, async () => {
      const client = lambdaClient();
      // A slower DynamoDB: each throttled answer of the session item comes `latency` ms after it is sent.
      client.middlewareStack.add(
        (next) => async (args) => {
          try {
            return await next(args);
          } catch (error) {
            if (latency > 0 && (error as Error).name === 'ProvisionedThroughputExceededException')
              await new Promise((resolve) => setTimeout(resolve, latency));
            throw error;
          }
        },
        { step: 'deserialize', priority: 'high', name: 'attack27Latency' },
      );
      let sessionPk = '';
      let writes = 0;
      throttleAttempts(client, (command, pk) => {
        if (command !== 'UpdateItemCommand' || sessionPk === '' || pk !== sessionPk) return undefined;
        writes++;
        return 'item';
      });
      const { pipeline, keys } = pipelineOn(client, table.tableName);
      const { key, keyId } = await keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
      expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      sessionPk = `key#${keyId}`;
      const random = pin === undefined ? undefined : vi.spyOn(Math, 'random').mockReturnValue(pin);
      // A request, one 100 ms later (it finds the key heating), then a stream every 20 ms around the first spread's end (~1.2–1.5 s in).
      const starts = [0, 100, ...Array.from({ length: 30 }, (_, i) => (latency > 0 ? 1600 : 1150) + 12 * i)];
      const timed = async (i: number) => {
        await new Promise((resolve) => setTimeout(resolve, starts[i]));
        const started = performance.now();
        const answer = await pipeline.authorize(requestWith(key)).then(
          (d) => (d.allow ? 'allow' : d.reason),
          (e: Error) => `500 ${e.name}`,
        );
        return { i, answer, ms: Math.round(performance.now() - started) };
      };
      const results = await Promise.all(starts.map((_, i) => timed(i)));
      random?.mockRestore();
      sessionPk = '';
      const worst = [...results].sort((a, b) => b.ms - a.ms).slice(0, 5);
      const summary = JSON.stringify({
        old: process.env.ATK27_OLD === '1',
        pin,
        latency,
        writes,
        maxMs: worst[0]!.ms,
        worst,
        all: results.map((r) => r.ms),
      });
      for (const r of results) expect(r.answer, summary).not.toBe('allow');
      expect(worst[0]!.ms, summary).toBeLessThan(BUSY_BUDGET_MS + LAST_COUNT_MS + 200);
    }, 30_000);
});
