import { ProvisionedThroughputExceededException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/** A seeded generator (mulberry32): the same throttles on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WRITES = new Set(['UpdateItemCommand', 'PutItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand']);

/** Throttles each write attempt on the table with probability `p` (a table-wide throttle: any item), while `on()`. */
function tableThrottle(client: DynamoDBClient, p: number, seed: number, on: () => boolean) {
  const random = seeded(seed);
  const stats = { writes: 0, throttled: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (on() && WRITES.has(String(context.commandName))) {
        stats.writes++;
        if (random() < p) {
          stats.throttled++;
          throw new ProvisionedThroughputExceededException({
            message: 'The level of configured provisioned throughput for the table was exceeded (simulated)',
            $metadata: {},
            ThrottlingReasons: [{ reason: 'TableWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:::table/t' }],
          });
        }
      }
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'tableThrottle' },
  );
  return stats;
}

/**
 * The SDK retry as it was before a cold key's count was sent `tryElsewhereWhenThrottled`:
 * the flag is taken off a throttled count on a session item (not on counter items, not on
 * the spreading write), so the retry strategy retries it once after 50 ms.
 */
function retryColdCounts(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const input = (args as { input?: { Key?: { pk?: { S?: string } }; ExpressionAttributeNames?: Record<string, string> } }).input;
        const pk = input?.Key?.pk?.S ?? '';
        const spreading = Object.values(input?.ExpressionAttributeNames ?? {}).includes('shards');
        if (context.commandName === 'UpdateItemCommand' && !pk.includes('#c') && !spreading && error && typeof error === 'object')
          delete (error as Record<symbol, unknown>)[Symbol.for('gatepass.tryElsewhereWhenThrottled')];
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'retryColdCounts' },
  );
}

/**
 * Fixed: only a throttle of the item itself (`…KeyRangeThroughputExceeded`, or no reason)
 * spreads a key or doubles its counter items; one of the table or the account is passed on
 * (the SDK's one retry first for a cold key's count). The change that sent a cold key's count
 * `tryElsewhereWhenThrottled` is reverted.
 *
 * Attack: a table-wide intermittent throttle (a provisioned table past its write capacity, an
 * on-demand table past its maximum: `ProvisionedThroughputExceededException` with reason
 * `TableWriteProvisionedThroughputExceeded`, on any item) meets a cold key with a small quota.
 * Since a cold key's count is sent `tryElsewhereWhenThrottled`, one throttled count spreads
 * the key at once — though its session item is not hot, and the table, not the item, is
 * what is short of units — and a throttled spend doubles it (two per request), up to 64.
 * The leases then sit on counter items the key's few requests seldom reach: the key answers
 * `quota_exceeded` with quota left, and goes on doing so after the throttle has passed
 * (until cooling, 60 s or more per halving, or the window's end: here an hour).
 *
 * Run: 5 keys (quota 20 an hour), each 25 requests one after another while 15 % of the
 * table's write attempts are throttled (seeded), then 20 more with no throttle.
 * Observed (now, three runs): every key spread (to 8–32 counter items) in every run; allowed
 * in the window 89, 91 and 95 of 100 (one key 12 of 20), every later request
 * `quota_exceeded` with quota left; 47–61 write attempts per key where the retry took 24–44
 * (spreading adds writes to a table short of units). The same runs with the count retried
 * once (as before the change, emulated by `retryColdCounts`): 99 of 100, 1 key of 5 spread
 * (after two throttles in a row). The assertion is what the suggested fix gives: no spread.
 * Held: no fault (500) and never more than the quota allowed, in any run.
 *
 * Severity: medium — a customer with a small quota is refused ("quota exceeded") for part of
 * its quota for up to the window, triggered by throttling that says nothing of the key.
 * Suggested fix: spread only on a throttle of the item itself (`ThrottlingReasons` naming
 * `…KeyRangeThroughputExceeded`, which the SDK gives; the local ceiling already says it),
 * and answer a table- or account-level throttle with the ordinary retry; or spread a cold
 * key only after a second throttle in one request (the SDK retry first), and double the
 * counter items only on key-range throttles of two counter items.
 */
describe('attack13: a cold key under a table-wide intermittent throttle', () => {
  let table: TestTable;
  afterAll(async () => {
    await table.drop();
  });

  async function run(p: number, seed: number, old: boolean, quota: number, requests: number) {
    const client = lambdaClient();
    let on = false;
    const stats = tableThrottle(client, p, seed, () => on);
    if (old) retryColdCounts(client);
    const { pipeline, keys, store } = pipelineOn(client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: quota, quotaRenewalRate: 3600 });
    on = true;
    let allowed = 0;
    let denied = 0;
    const faults: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < requests; i++) {
      const d = await pipeline.authorize(requestWith(key)).catch((error: Error) => error);
      if (d instanceof Error) faults.push(d.name);
      else if (d.allow) allowed++;
      else denied++;
    }
    const ms = Math.round(performance.now() - t0);
    on = false;
    let after = 0;
    const reasons: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      const d = await pipeline.authorize(requestWith(key)).catch(() => undefined);
      if (d?.allow) after++;
      else if (d) reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
    }
    const shards = (await store.get(`key#${keyId}`))?.shards ?? 0;
    return { allowed, denied, faults, after, reasons, shards, ms, ...stats };
  }

  const SEEDS = [1, 2, 3, 4, 5];
  const QUOTA = 20;
  type Run = Awaited<ReturnType<typeof run>>;
  const runs: Run[] = [];
  beforeAll(async () => {
    table = await createTestTable('attack13-throttle');
    const before: Run[] = [];
    for (const seed of SEEDS) {
      runs.push(await run(0.15, seed, false, QUOTA, 25));
      before.push(await run(0.15, seed, true, QUOTA, 25));
    }
    const brief = ({ allowed, after, shards, writes }: Run) => ({ allowed, after, shards, writes });
    // For the record: the same runs with a cold count retried once, as before.
    console.log(JSON.stringify({ now: runs.map(brief), before: before.map(brief) }));
  }, 60_000);

  it('a table-wide throttle does not spread a cold key, and the key still allows its whole quota', () => {
    expect(runs.map((r) => ({ shards: r.shards, allowedInWindow: r.allowed + r.after }))).toEqual(
      SEEDS.map(() => ({ shards: 0, allowedInWindow: QUOTA })),
    );
  });

  /**
   * A count whose two attempts are both throttled by the table fails closed (500): DynamoDB as
   * a whole did not take it. Seen: 0 to 2 of 25 per key at 15 %.
   */
  it('held: never more allowed than the quota; a fault only where the table throttled the count twice', () => {
    for (const r of runs) {
      expect(r.faults.filter((name) => name !== 'ProvisionedThroughputExceededException')).toEqual([]);
      expect(r.allowed + r.after).toBeLessThanOrEqual(QUOTA);
    }
  });
});
