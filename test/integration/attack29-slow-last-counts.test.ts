import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

vi.mock('../../lambdas/core/request/busy-budget.ts', async (original) => (await import('./budget-stand-ins.ts')).budgetUnderTest(original));

/**
 * Fixed: one step limit for every count (the budget's end + LAST_COUNT_MS), and no out-of-steps read past it.
 *
 * Attack29 (time bound, slow steps): a spread key with room (quota 100,000, 4 counter items holding leases) whose
 * counting writes (spends, transactions) and session reads stay throttled (table) for the whole request, on a
 * DynamoDB that answers every call `latency` ms late (well within the 400 ms attempt timeout). The request fails
 * closed; how long does it take? Claim: by about 2 s plus two counts' last steps, within the Lambda's 3 s.
 *
 * Found (time overrun past the Lambda's 3 s, introduced by 310c0a4): latency 250 ms: 3128–3134 ms in three runs (2
 * requests each, "counter items stayed busy"); latency 150 ms: 2232–2238 ms. With f464d93's budget
 * (`ATK29_BUDGET=f464`): 2320–2328 and 1573–1577 ms; before f464d93 (`old`): 2068–2073 and 1571–1576 ms. The count
 * started past the budget's end gets its own 250 ms, and neither its steps nor its out-of-steps read of the session
 * item are bounded by it: a slow step started at the limit, then the read, each run a call's latency past it. The
 * decision's end is the budget + 2 × LAST_COUNT_MS + up to 4 calls, not "about 2 s". Suggested fix: one step limit
 * for every count after the budget's end (end + LAST_COUNT_MS), and no out-of-steps read past it.
 */
const LATENCIES = (process.env.ATK29_LATENCIES ?? '150,250').split(',').map(Number);

describe('attack29: busy counts whose steps are slow', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a29-slow-last');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('the request fails closed within the Lambda’s 3 s', async () => {
    const rows: string[] = [];
    let maxMs = 0;
    for (const latency of LATENCIES)
      for (let t = 0; t < 2; t++) {
        let armed = false;
        let armedAt = 0;
        let pk = '';
        const client = lambdaClient();
        client.middlewareStack.add(
          (next, context) => async (args) => {
            const command = String(context.commandName);
            const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
            if (!armed) return next(args);
            await new Promise((resolve) => setTimeout(resolve, latency));
            const hit =
              command === 'TransactWriteItemsCommand' ||
              (command === 'UpdateItemCommand' && p.startsWith(`${pk}#c`)) ||
              (command === 'GetItemCommand' && p === pk && performance.now() - armedAt > 200);
            if (hit) throw throttle('table');
            return next(args);
          },
          { step: 'deserialize', priority: 'low', name: 'attack29' },
        );
        const A = pipelineOn(client, table.tableName);
        const { key, keyId } = await A.keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
        pk = `key#${keyId}`;
        await spreadKey(table.doc, table.tableName, pk, 4);
        for (let i = 0; i < 6; i++) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
        armed = true;
        armedAt = performance.now();
        const answer = await A.pipeline.authorize(requestWith(key)).then(
          (d) => (d.allow ? 'allow' : d.reason),
          (e: Error) => `500 ${e.message}`,
        );
        const ms = Math.round(performance.now() - armedAt);
        armed = false;
        maxMs = Math.max(maxMs, ms);
        rows.push(`latency ${latency}: ${answer} @${ms}`);
      }
    expect(maxMs, JSON.stringify({ budget: process.env.ATK29_BUDGET ?? '310c0a4', maxMs, rows })).toBeLessThan(
      Number(process.env.ATK29_BOUND ?? 3000),
    );
  }, 120_000);
});
