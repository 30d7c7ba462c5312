import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { keySessionPk } from '../../lambdas/core/model/keys.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

/**
 * DynamoDB applies a write and the answer is lost (a connection reset): the SDK sends the
 * same write again. Injected below the SDK's retry, on real DynamoDB Local, so the first
 * write really lands. The counting model must err toward denying, never toward granting.
 */
describe('answers lost after the write landed', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('lost-answers');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** A document client whose write answers (counts, and the transactions of changes) are lost once each, after DynamoDB applied the write. */
  function lossyClient(): { doc: DynamoDBDocumentClient; lost: () => number } {
    const client = new DynamoDBClient({ endpoint: dynamoEndpoint(), maxAttempts: 3 });
    let lost = 0;
    let drop = true;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if ((context.commandName === 'UpdateItemCommand' || context.commandName === 'TransactWriteItemsCommand') && drop) {
          drop = false;
          lost++;
          throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
        }
        drop = true;
        return result;
      },
      { step: 'deserialize', name: 'loseAnswers', priority: 'low' },
    );
    return { doc: DynamoDBDocumentClient.from(client), lost: () => lost };
  }

  it('never allows more than the quota when every counting write is sent twice', async () => {
    const { doc, lost } = lossyClient();
    const config = parseConfig(JSON.stringify({ tableName: table.tableName }));
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    const clean = new SessionStore({ client: DynamoDBDocumentClient.from(table.client), tableName: table.tableName, retentionSeconds: 0 });
    const { key, keyId } = await new KeyService(clean).create({ quotaMax: 3, quotaRenewalRate: 3600 });
    const pipeline = new Pipeline({ config, store, log: silentLog });

    const decisions = [];
    for (let i = 0; i < 6; i++) decisions.push(await pipeline.authorize(requestWith(key)));

    const allowed = decisions.filter((d) => d.allow).length;
    const used = (await clean.get(keySessionPk(keyId)))!.quotaUsed!;
    expect(lost()).toBeGreaterThan(0);
    // Each allowed request was counted at least once, some twice: fewer allowed, never more.
    expect(allowed).toBeLessThanOrEqual(3);
    expect(allowed).toBeGreaterThanOrEqual(1);
    expect(used).toBeGreaterThanOrEqual(allowed);
    expect(decisions.filter((d) => !d.allow).every((d) => !d.allow && d.reason === 'quota_exceeded')).toBe(true);
  });

  it('resets a quota once when the answer to the reset is lost, so counts made after it stand', async () => {
    const { doc, lost } = lossyClient();
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    const keys = new KeyService(store);
    const clean = new SessionStore({ client: DynamoDBDocumentClient.from(table.client), tableName: table.tableName, retentionSeconds: 0 });
    const { keyId } = await new KeyService(clean).create({ quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 3600 });

    const reset = await keys.resetQuota(keyId);

    expect(lost()).toBe(1);
    expect(reset.quotaRemaining).toBe(10);
    expect((await clean.get(keySessionPk(keyId)))!.quotaUsed).toBe(0);
  });
});
