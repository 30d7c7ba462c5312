import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterItemPk } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * The first second of a hot key: the instance that spreads it knows its new counter items do
 * not exist yet, so it fills them — no spend on them first, which could only fail and would
 * use the items' write units (under DynamoDB's per-item ceiling that made them look
 * throttled, and the key grew to 64 items before its first fill landed) — and a fill that
 * does not land (throttled) leaves them known empty, so the next try fills them too.
 */
describe('a hot key spread by this instance', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('hot-first-fill');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const fillThrottles of [0, 2]) {
    it(`fills its new counter items without spending on them first (${fillThrottles} fills throttled)`, async () => {
      const client = lambdaClient();
      let sessionPk = '';
      let sessionThrottles = 0;
      let transactThrottles = 0;
      let failedSpends = 0;
      throttleAttempts(
        client,
        (command, pk) => {
          if (command === 'UpdateItemCommand' && pk === sessionPk && sessionThrottles > 0) {
            sessionThrottles -= 1;
            return 'item';
          }
          if (command === 'TransactWriteItemsCommand' && transactThrottles > 0) {
            transactThrottles -= 1;
            return 'item';
          }
          return undefined;
        },
        (error, _command, pk) => {
          if (error instanceof ConditionalCheckFailedException && pk.startsWith(`${sessionPk}#c`)) failedSpends++;
        },
      );
      const { pipeline, keys, store } = pipelineOn(client, table.tableName);
      const { key, keyId } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
      sessionPk = `key#${keyId}`;
      sessionThrottles = 2;
      transactThrottles = fillThrottles;
      expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      expect(transactThrottles).toBe(0);
      const session = await store.get(sessionPk);
      const items = await Promise.all(Array.from({ length: 8 }, (_, i) => store.get(counterItemPk(sessionPk, i))));
      expect({ shards: session?.shards, filled: items.filter((item) => item !== undefined).length, failedSpends }).toEqual({
        shards: 8,
        filled: 8,
        failedSpends: 0,
      });
      let allowed = 1;
      for (let i = 0; i < 10; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
      expect(allowed).toBe(11);
      expect((await keys.get(keyId)).quotaRemaining).toBe(1000 - allowed);
    });
  }
});
