import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

/** The rotation transaction lands and its answer is lost: the SDK sends it again (same token). */
describe('attack2: a lost answer on the rotation transaction', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack2-rot-lost');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('answers 201 with a working key, and the session names exactly the old and the new key', async () => {
    const client = new DynamoDBClient({ endpoint: dynamoEndpoint(), maxAttempts: 3 });
    let lost = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'TransactWriteItemsCommand' && lost === 0) {
          lost++;
          throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
        }
        return result;
      },
      { step: 'deserialize', name: 'loseRotation', priority: 'low' },
    );
    const doc = DynamoDBDocumentClient.from(client);
    const clean = new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 0 });
    const { key: old, keyId } = await new KeyService(clean).create({ quotaMax: 5, quotaRenewalRate: 3600 });
    const lossy = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    const rotated = await new KeyService(lossy).rotate(keyId, { graceSeconds: 0 });
    expect(lost).toBe(1);
    const session = await new KeyService(clean).get(keyId);
    expect(session.keys?.map((k) => k.keyId).sort()).toEqual([keyId, rotated.keyId].sort());
    const pipeline = new Pipeline({ config: parseConfig(JSON.stringify({ tableName: table.tableName })), store: clean, log: silentLog });
    expect(await pipeline.authorize(requestWith(rotated.key))).toMatchObject({ allow: true, principalId: keyId });
    expect(await pipeline.authorize(requestWith(old))).toMatchObject({ allow: false, reason: 'key_not_found' });
  });
});
