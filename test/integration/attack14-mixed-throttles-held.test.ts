import { type DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { authorizerClient, drive } from '../support/hot-keys.ts';
import { pipelineOn } from '../support/pipeline.ts';

const WRITES = new Set(['UpdateItemCommand', 'PutItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand']);

/** Throttles a share `p()` of the write attempts table-wide (reason `TableWriteProvisionedThroughputExceeded`). */
function tableThrottle(client: DynamoDBClient, p: () => number): DynamoDBClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (WRITES.has(String(context.commandName)) && Math.random() < p())
        throw new ProvisionedThroughputExceededException({
          message: 'table throttled (simulated)',
          $metadata: {},
          ThrottlingReasons: [{ reason: 'TableWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:::table/t' }],
        });
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'tableThrottle' },
  );
  return client;
}

const W = 20;
const QUOTA = 60;

/**
 * Attack (held): a hot key behind the per-item ceiling (KeyRange throttles: W = 20) and a
 * table-wide throttle on 20 % of write attempts at once — three instances × 6 workers for
 * 3 s, quota 60 a day. Does it spread (item throttles) without the table throttles
 * doubling it past need; is more than the quota ever allowed; is any answer other than
 * allow / quota_exceeded or a throttling fault (fail closed)?
 * Observed (quota 150, one run): 96 allowed of 96, 8 counter items, 54 left (exact). Quota 60, two
 * runs: 60 allowed each (10 and 636 quota_exceeded, one throttling fault), 8 counter items, 0 left.
 */
describe('attack14 (held): a hot key under item- and table-level throttles at once', () => {
  let table: TestTable;
  const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W });
  beforeAll(async () => {
    table = await createTestTable('attack14-mixed');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('never allows more than the quota; only allows, quota_exceeded or throttling faults', async () => {
    let p = 0;
    const instances = Array.from({ length: 3 }, () =>
      pipelineOn(
        tableThrottle(authorizerClient(ceiling), () => p),
        table.tableName,
      ),
    );
    const { key, keyId } = await instances[0]!.keys.create({ quotaMax: QUOTA, quotaRenewalRate: 86_400 });
    p = 0.2;
    const answers = await drive(
      instances.map((i) => i.pipeline),
      key,
      3000,
      6,
    );
    p = 0;
    const allowed = answers.filter((a) => !(a instanceof Error) && a.allow).length;
    const reasons: Record<string, number> = {};
    for (const a of answers) {
      const name = a instanceof Error ? `fault:${a.name}` : a.allow ? 'allow' : a.reason;
      reasons[name] = (reasons[name] ?? 0) + 1;
    }
    const shards = (await instances[0]!.store.get(`key#${keyId}`))?.shards ?? 0;
    const remaining = (await instances[0]!.keys.get(keyId)).quotaRemaining;
    console.log(JSON.stringify({ allowed, reasons, shards, remaining, ceiling: ceiling.stats }));
    expect(allowed).toBeLessThanOrEqual(QUOTA);
    expect(
      // Failing closed on a throttle, or on counter items that stayed busy (a denial would need them seen without room).
      Object.keys(reasons).filter(
        (r) => !['allow', 'quota_exceeded', 'fault:ProvisionedThroughputExceededException', 'fault:ContentionError'].includes(r),
      ),
    ).toEqual([]);
    expect(shards).toBeLessThanOrEqual(64);
    expect(remaining).toBeLessThanOrEqual(QUOTA - allowed);
  }, 15_000);
});
