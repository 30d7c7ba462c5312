import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * A hot key whose whole quota is leased out to its counter items (its session item shows
 * no room), and a request whose every step meets a busy counter item: a throttle of the
 * table (not of the item, so the key does not grow). Those steps say nothing of the room
 * left, so the request must not be denied on the session item — nor, after it, the next
 * requests by the repeated-denial memory. It counts again instead.
 */
describe('a hot key whose counter items are all busy for one request', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('hot-busy-steps');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('counts again rather than deny while its counter items have room', async () => {
    const client = lambdaClient();
    let sessionPk = '';
    /** Throttles of the session item left (the count and the SDK's retry of it: the key spreads). */
    let sessionThrottles = 0;
    /** Table throttles left for counting writes on counter items. */
    let busy = 0;
    let busyMet = 0;
    throttleAttempts(client, (command, pk) => {
      if (command !== 'UpdateItemCommand') return undefined;
      if (pk === sessionPk && sessionThrottles > 0) {
        sessionThrottles -= 1;
        return 'item';
      }
      if (pk.startsWith(`${sessionPk}#c`) && busy > 0) {
        busy -= 1;
        busyMet += 1;
        return 'table';
      }
      return undefined;
    });
    const { pipeline, keys, store } = pipelineOn(client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    sessionThrottles = 2;
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    const session = await store.get(sessionPk);
    // Spread over 8 counter items, the whole quota leased out to them.
    expect({ shards: session?.shards, quotaUsed: session?.quotaUsed }).toEqual({ shards: 8, quotaUsed: 80 });

    busy = 8;
    const underThrottle = await pipeline.authorize(requestWith(key));
    expect(busyMet).toBe(8);
    expect(underThrottle).toMatchObject({ allow: true });
    let allowed = 2;
    for (let i = 0; i < 5; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
    expect(allowed).toBe(7);
    expect((await keys.get(keyId)).quotaRemaining).toBe(80 - allowed);
  });
});
