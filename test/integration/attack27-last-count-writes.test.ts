import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle, type ThrottleKind } from '../support/throttles.ts';

vi.mock('../../lambdas/core/request/busy-budget.ts', async (original) => (await import('./budget-stand-ins.ts')).budgetUnderTest(original));

/**
 * Attack27 (wasted writes): a spread key with room whose counting writes (spends, every transaction)
 * stay throttled for whole requests, `kind` table (busy) or item (spends throttled: the key grows).
 * Each request fails closed after its budget; how many writes does it send to the throttled items,
 * and how many of them in its last count (past 1.5 s)?
 * Held (a cost, not a fault; 4 requests each, one run each): table throttles 64–72 writes, 8 of them past
 * 1.5 s (the last count: 8 spends), failed closed at 1.51 s; before f464d93 56–57, 0–1 past 1.5 s. Item
 * throttles (growth to 16) 49 writes, 8 past 1.5 s, failed closed at 1.60–1.67 s; before 41–47, 0 late,
 * 1.51–1.54 s. So the last count adds one count's worth of writes (≤ 8) to every request that fails closed.
 */
const BOUND = Number(process.env.ATK27_WRITES_BOUND ?? 80);

describe('attack27: writes a request sends to counter items that stay throttled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a27-last-writes');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const kind of ['table', 'item'] as const satisfies readonly ThrottleKind[])
    it(`${kind} throttles: writes per failed-closed request`, async () => {
      let armedAt = 0;
      let pk = '';
      let writes = 0;
      let late = 0;
      const client = lambdaClient();
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const command = String(context.commandName);
          const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
          const counting = command === 'TransactWriteItemsCommand' || (command === 'UpdateItemCommand' && p.startsWith(`${pk}#c`));
          if (armedAt > 0 && (counting || (command === 'UpdateItemCommand' && p === pk))) {
            writes++;
            if (performance.now() - armedAt > 1500) late++;
          }
          if (armedAt > 0 && counting) throw throttle(kind);
          return next(args);
        },
        { step: 'deserialize', priority: 'low', name: 'attack27' },
      );
      const A = pipelineOn(client, table.tableName);
      const rows: string[] = [];
      for (let r = 0; r < 4; r++) {
        const { key, keyId } = await A.keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
        pk = `key#${keyId}`;
        await spreadKey(table.doc, table.tableName, pk, 8);
        for (let i = 0; i < 6; i++) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
        writes = 0;
        late = 0;
        armedAt = performance.now();
        const answer = await A.pipeline.authorize(requestWith(key)).then(
          (d) => (d.allow ? 'allow' : d.reason),
          (e: Error) => `500 ${e.name}`,
        );
        const ms = Math.round(performance.now() - armedAt);
        armedAt = 0;
        rows.push(`${answer}@${ms} writes=${writes} late=${late} shards=${(await A.store.get(pk))?.shards}`);
      }
      const perRequest = rows.map((r) => Number(/writes=(\d+)/.exec(r)![1]));
      const summary = JSON.stringify({ kind, old: process.env.ATK27_OLD === '1', max: Math.max(...perRequest), rows });
      expect(Math.max(...perRequest), summary).toBeLessThanOrEqual(BOUND);
    }, 60_000);
});
