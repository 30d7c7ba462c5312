import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

const WRITES = new Set(['UpdateItemCommand', 'PutItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand']);

/**
 * Attack: a hot key (spread to 8 counter items by two throttles of its session item, no
 * reason: an item throttle) then meets a table-wide throttle (reason
 * `TableWriteProvisionedThroughputExceeded`) on a share of every write. A spend so throttled
 * answers `conflict` (try another item), never `throttled`: the key must not double, and each
 * request must be answered allow (quota left) or fail closed — never a denial with quota left;
 * the quota stays exact; once the throttle passes every request is allowed.
 * Run: quota 1,000/day, 40 requests one after another at p = 0.3 and p = 0.6, then 20 clear.
 * Observed: p = 0.3: 18 of 72 writes throttled; p = 0.6: 96 of 161; both: every request
 * allowed (61), no fault, no denial, 8 counter items before and after, 939 left (exact).
 * Later, once a first fill leased the whole quota out (1,000 over 8 counter items), a request
 * whose 8 spends all met the throttle (0.6⁸: about 1 in 60) was denied `quota_exceeded` on
 * the session item, and the repeated-denial memory then denied the next half second too
 * (20 of 20 after the throttle). Steps used up on busy items say nothing of the room left:
 * such a request now counts again, and fails closed only when that keeps happening.
 */
describe('attack14: a spread key under a table-wide throttle', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack14-hot-table');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const p of [0.3, 0.6]) {
    it(`p = ${p}: allowed or failed closed, no double, exact quota`, async () => {
      const client = lambdaClient();
      let armed = 0;
      let tableP = 0;
      let sessionPk = '';
      const stats = { writes: 0, throttled: 0 };
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const input = (args as { input?: { Key?: { pk?: { S?: string } } } }).input;
          if (armed > 0 && context.commandName === 'UpdateItemCommand' && input?.Key?.pk?.S === sessionPk) {
            armed -= 1;
            throw new ProvisionedThroughputExceededException({ message: 'throttled (simulated)', $metadata: {} });
          }
          if (tableP > 0 && WRITES.has(String(context.commandName))) {
            stats.writes++;
            if (Math.random() < tableP) {
              stats.throttled++;
              throw new ProvisionedThroughputExceededException({
                message: 'table throttled (simulated)',
                $metadata: {},
                ThrottlingReasons: [{ reason: 'TableWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:::table/t' }],
              });
            }
          }
          return next(args);
        },
        { step: 'deserialize', priority: 'low', name: 'throttles' },
      );
      const { pipeline, keys, store } = pipelineOn(client, table.tableName);
      const { key, keyId } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
      sessionPk = `key#${keyId}`;
      armed = 2;
      let allowed = 0;
      if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
      const shardsBefore = (await store.get(sessionPk))?.shards ?? 0;
      tableP = p;
      const reasons: Record<string, number> = {};
      const faults: string[] = [];
      const t0 = performance.now();
      for (let i = 0; i < 40; i++) {
        const d = await pipeline.authorize(requestWith(key)).catch((error: Error) => error);
        if (d instanceof Error) faults.push(d.name);
        else if (d.allow) allowed++;
        else reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
      }
      const ms = Math.round(performance.now() - t0);
      tableP = 0;
      let after = 0;
      for (let i = 0; i < 20; i++) if ((await pipeline.authorize(requestWith(key))).allow) after++;
      allowed += after;
      const shardsAfter = (await store.get(sessionPk))?.shards ?? 0;
      const remaining = (await keys.get(keyId)).quotaRemaining;
      console.log(
        JSON.stringify({ p, shardsBefore, shardsAfter, allowed, after, reasons, faults: faults.length, ms, ...stats, remaining }),
      );
      expect(shardsBefore).toBe(8);
      expect({ shardsAfter, reasons, after }).toEqual({ shardsAfter: 8, reasons: {}, after: 20 });
      // Failing closed: the throttle itself, or a request whose counts kept meeting busy counter items.
      const failedClosed = new Set(['ProvisionedThroughputExceededException', 'ContentionError']);
      expect(faults.filter((name) => !failedClosed.has(name))).toEqual([]);
      expect(remaining).toBe(1000 - allowed);
    }, 20_000);
  }
});
