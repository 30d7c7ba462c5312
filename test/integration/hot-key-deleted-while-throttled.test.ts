import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * A key deleted by an admin while a request counts on it from this instance's memory: the
 * count meets a throttle of the session item, so the instance tries to spread the key over
 * counter items — and finds it gone. That is an answer (the key does not exist), not a
 * fault: `key_not_found`, never a 500. Before, the spread's "could not write" was taken for
 * "throttled throughout" and the throttle itself was passed on (the first case answered
 * `ProvisionedThroughputExceededException`). The second case is the same moment for a key
 * already spread, whose throttled counter items make it grow.
 */
describe('a throttled count on a key deleted at that moment', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('hot-deleted');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const shape of ['counting on its session item', 'growing its counter items'] as const) {
    it(`answers key_not_found (${shape})`, async () => {
      const client = lambdaClient();
      let sessionPk = '';
      /** Throttles left for counting writes: of the session item (it spreads), or of counter items (it grows). */
      let throttles = 0;
      let on: 'session item' | 'counter items' = 'session item';
      throttleAttempts(client, (command, pk) => {
        if (command !== 'UpdateItemCommand' || throttles === 0) return undefined;
        if (on === 'session item' ? pk !== sessionPk : !pk.startsWith(`${sessionPk}#c`)) return undefined;
        throttles -= 1;
        return 'item';
      });
      const { pipeline, keys, store } = pipelineOn(client, table.tableName);
      const admin = pipelineOn(lambdaClient(), table.tableName).keys;
      const { key, keyId } = await keys.create({ quotaMax: 1_000_000, quotaRenewalRate: 86_400 });
      sessionPk = `key#${keyId}`;
      if (shape === 'growing its counter items') {
        // Two throttled counts of the session item (the count and the SDK's retry of it) spread the key.
        throttles = 2;
        expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
        const spread = await store.get(sessionPk);
        // Spread, with room left to lease: two throttled counter items then grow the key.
        expect({ shards: spread?.shards, room: (spread?.quotaUsed ?? 0) < 1_000_000 }).toEqual({ shards: 8, room: true });
      }
      // Remembered by this instance: the next request counts without reading the key first.
      expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });

      await admin.delete(keyId);
      if (shape === 'growing its counter items') on = 'counter items';
      throttles = on === 'session item' ? 2 : 16;
      const answer = await pipeline.authorize(requestWith(key)).then(
        (decision) => decision,
        (error: Error) => ({ fault: error.name }),
      );
      expect(answer).toMatchObject({ allow: false, reason: 'key_not_found' });
      expect(await store.get(sessionPk)).toBeUndefined();
    });
  }
});
