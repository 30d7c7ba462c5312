import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { type LostAnswer, loseNextTransactionAnswer } from '../support/lossy-client.ts';
import { createTestTable, type TestTable, lambdaClient } from '../support/dynamo.ts';

/**
 * A policy write whose first copy lands with its answer lost, and whose SDK re-send is
 * throttled: the policy store sends it again under the same client request token, so
 * DynamoDB answers it with the first copy's success — the write is answered as written
 * (not a 409 or a 500 for a write that landed), and applied once.
 */
describe('a policy write re-sent after a lost answer and a throttled re-send', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('policy-resent');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** The admin Lambda's client; when armed, its next transaction lands, loses its answer, and its SDK re-send is throttled. */
  function lossyAdmin(): { doc: DynamoDBDocumentClient; lost: LostAnswer } {
    const client = lambdaClient();
    const lost = loseNextTransactionAnswer(
      client,
      () =>
        new ProvisionedThroughputExceededException({
          message: 'The level of configured provisioned throughput was exceeded',
          $metadata: {},
        }),
    );
    return { doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), lost };
  }

  const stored = async (id: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `policy#${id}` }, ConsistentRead: true }))).Item;

  it('a PUT is answered as written, and applied once', async () => {
    const { doc, lost } = lossyAdmin();
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('gold', PolicyFieldsSchema.parse({ quotaMax: 100, quotaRenewalRate: 3600 }));
    lost.arm();
    const written = await policies.put('gold', PolicyFieldsSchema.parse({ quotaMax: 200, quotaRenewalRate: 3600 }), 1);
    expect([lost.armed, lost.landings]).toEqual([false, 1]);
    expect(written).toMatchObject({ version: 2, quotaMax: 200 });
    expect(await stored('gold')).toMatchObject({ version: 2, quotaMax: 200 });
  });

  it('a DELETE is answered as done, and applied once', async () => {
    const { doc, lost } = lossyAdmin();
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('silver', PolicyFieldsSchema.parse({ quotaMax: 100, quotaRenewalRate: 3600 }));
    lost.arm();
    expect(await policies.delete('silver', 1)).toBe(true);
    expect([lost.armed, lost.landings]).toEqual([false, 1]);
    expect(await stored('silver')).toMatchObject({ version: 2 });
  });
});
