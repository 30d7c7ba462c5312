import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * A throttled counting write means the key's session item is past its throughput: it is
 * not sent to that item again (the SDK's retry would wait and add to the load there); the
 * key spreads at once and the request is counted on a counter item.
 */
describe("a cold key's first throttled count", () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('first-throttle');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('spreads the key at once instead of sending the count to the throttled session item again', async () => {
    const client = lambdaClient();
    /** Every attempt (retries included) of an UpdateItem on the session item: the count's, or another write's. */
    const attempts: string[] = [];
    let throttleNextCount = false;
    let sessionPk = '';
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input?: { Key?: { pk?: { S?: string } }; ExpressionAttributeNames?: Record<string, string> } }).input;
        if (context.commandName === 'UpdateItemCommand' && input?.Key?.pk?.S === sessionPk) {
          // The spreading write names `shards`; a cold key's count does not.
          const isCount = !Object.values(input.ExpressionAttributeNames ?? {}).includes('shards');
          attempts.push(isCount ? 'count' : 'spread');
          if (isCount && throttleNextCount) {
            throttleNextCount = false;
            throw new ProvisionedThroughputExceededException({ message: 'throttled (simulated)', $metadata: {} });
          }
        }
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'recordSessionItemAttempts' },
    );
    const { pipeline, keys, store } = pipelineOn(client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    sessionPk = `key#${keyId}`;
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect(attempts).toEqual(['count']);

    attempts.length = 0;
    throttleNextCount = true;
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    // One throttled attempt on the session item, then the spreading write: no second count there.
    expect(attempts).toEqual(['count', 'spread']);
    expect((await store.get(sessionPk))?.shards).toBeGreaterThan(0);
    // Both requests counted: one on the session item, one through a lease of a counter item.
    expect((await keys.get(keyId)).quotaRemaining).toBe(98);
  });
});
