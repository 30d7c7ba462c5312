import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { createTestTable, type TestTable, lambdaClient } from '../support/dynamo.ts';

/**
 * A policy write whose first copy lands with its answer lost, and whose SDK re-send is
 * throttled: the policy store sends it again under the same client request token, so
 * DynamoDB answers it with the first copy's success — the write is answered as written
 * (not a 409 or a 500 for a write that landed), and applied once.
 */
describe('a policy write re-sent after a lost answer and a throttled re-send', () => {
  let table: TestTable;
  let armed = false;

  beforeAll(async () => {
    table = await createTestTable('policy-resent');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** The admin Lambda's client (2 attempts, 50 ms apart); when armed, its next transaction lands, loses its answer, and its SDK re-send is throttled. */
  function lossyClient(): DynamoDBDocumentClient {
    const client = lambdaClient();
    let attempt = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand' || !armed) return next(args);
        attempt++;
        if (attempt === 1) {
          const out = await next(args);
          // Read nothing of the answer, but hand its socket back.
          (out.response as { body?: { destroy?: () => void } }).body?.destroy?.();
          throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
        }
        armed = false;
        attempt = 0;
        throw new ProvisionedThroughputExceededException({
          message: 'The level of configured provisioned throughput was exceeded',
          $metadata: {},
        });
      },
      { step: 'deserialize', name: 'landThenThrottle', priority: 'low' },
    );
    return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  const stored = async (id: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `policy#${id}` }, ConsistentRead: true }))).Item;

  it('a PUT is answered as written, and applied once', async () => {
    const policies = new PolicyStore({ client: lossyClient(), tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('gold', PolicyFieldsSchema.parse({ quotaMax: 100, quotaRenewalRate: 3600 }));
    armed = true;
    const written = await policies.put('gold', PolicyFieldsSchema.parse({ quotaMax: 200, quotaRenewalRate: 3600 }), 1);
    expect(armed).toBe(false);
    expect(written).toMatchObject({ version: 2, quotaMax: 200 });
    expect(await stored('gold')).toMatchObject({ version: 2, quotaMax: 200 });
  });

  it('a DELETE is answered as done, and applied once', async () => {
    const policies = new PolicyStore({ client: lossyClient(), tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('silver', PolicyFieldsSchema.parse({ quotaMax: 100, quotaRenewalRate: 3600 }));
    armed = true;
    expect(await policies.delete('silver', 1)).toBe(true);
    expect(armed).toBe(false);
    expect(await stored('silver')).toMatchObject({ version: 2 });
  });
});
