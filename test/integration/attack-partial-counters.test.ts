import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
const NOW = NOW_MS / 1000;

/**
 * `planCount` reads an absent `used` as 0 and plans a take; the take's condition
 * `used < limit` is false on an absent attribute, and the item it returns is the same:
 * the request loops to the contention bound and fails as a contention fault, instead of
 * being counted (or refused as an item that cannot be judged). Only a hand-written or
 * partly restored item has this shape: every write path sets both counters together.
 */
describe('attack: a window start without a count', () => {
  let table: TestTable;
  let doc: DynamoDBDocumentClient;
  let store: SessionStore;

  beforeAll(async () => {
    table = await createTestTable('attack-partial-counters');
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
  });
  afterAll(async () => {
    await table.drop();
  });

  it('counts a request on an item whose quota window has a start but no count yet', async () => {
    const raw = `gp_partial-${Math.random()}`;
    const keyId = keyIdOf(raw);
    await doc.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: keySessionPk(keyId),
          kind: 'key',
          keyId,
          version: 1,
          createdAt: NOW - 100,
          updatedAt: NOW - 100,
          expires: 0,
          rate: 0,
          per: 0,
          quotaMax: 5,
          quotaRenewalRate: 3600,
          quotaStart: NOW_MS - 1000, // hand-written or partly restored: a start, no count
          accessRights: {},
          applyPolicies: [],
          metaData: {},
          tags: [],
          isInactive: false,
        },
      }),
    );
    const pipeline = new Pipeline({
      config: parseConfig(JSON.stringify({ tableName: table.tableName })),
      store,
      log: silentLog,
      clock: () => NOW_MS,
    });

    const decision = await pipeline.authorize(requestWith(raw)).catch((error: Error) => `fault: ${error.message}`);

    expect(decision).toMatchObject({ allow: true });
  });
});
