import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack (held): a cold key spread by one throttled count (both its attempts throttled)
 * and then used slowly — does it ever go back to its session item, and does its quota come
 * out exact? A settable clock: after the throttle, 3 requests every 61 s (of the clock).
 * Observed: shards 8 → 4 → 2 → 1 → 0 (one halving per cooling time, as documented), then
 * counted on the session item again; allowed = 3 per step, and the quota left is exactly
 * the quota less the requests allowed (the unspent leases given back by cooling).
 */
describe('attack13 (held): a key spread by one throttle cools back to its session item', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack13-cools');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('halves once per cooling time down to its session item, and its quota stays exact', async () => {
    let nowMs = Date.now();
    const client = lambdaClient();
    /** Throttled attempts left: the count's and the SDK's one retry of it, so the key spreads. */
    let armed = 0;
    let sessionPk = '';
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input?: { Key?: { pk?: { S?: string } } } }).input;
        if (armed > 0 && context.commandName === 'UpdateItemCommand' && input?.Key?.pk?.S === sessionPk) {
          armed -= 1;
          throw new ProvisionedThroughputExceededException({ message: 'throttled (simulated)', $metadata: {} });
        }
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'throttleTwice' },
    );
    const { pipeline, keys, store } = pipelineOn(client, table.tableName, { clock: () => nowMs });
    const { key, keyId } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    armed = 2;
    let allowed = 0;
    const shardsSeen: number[] = [];
    // Cooling is opportunistic (a step whose requests cannot cool leaves it to the next): up to 12 steps.
    for (let step = 0; step < 12 && shardsSeen.at(-1) !== 0; step++) {
      for (let i = 0; i < 3; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
      shardsSeen.push((await store.get(sessionPk))?.shards ?? 0);
      nowMs += 61_000;
    }
    expect(allowed).toBe(3 * shardsSeen.length);
    expect(shardsSeen[0]).toBe(8);
    // Found under load: back at its session item, the key was spread again at once (1 → 0 → 8 within
    // one step; seen as stuck at 4, or 1 → 8): the mark of its first spreading, set a moment before
    // in real time, still said "heating". The mark now goes once the key is spread.
    expect(shardsSeen.at(-1)).toBe(0);
    // Decreasing one halving at a time.
    for (let i = 1; i < shardsSeen.length; i++) expect([shardsSeen[i - 1], Math.floor(shardsSeen[i - 1]! / 2)]).toContain(shardsSeen[i]);
    expect((await keys.get(keyId)).quotaRemaining).toBe(1000 - allowed);
    console.log(JSON.stringify({ shardsSeen }));
  }, 30_000);
});
