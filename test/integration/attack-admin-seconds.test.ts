import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

/**
 * The admin service reads the clock in whole seconds (its default clock), so the quota
 * window a create or a reset starts "now" starts up to 999 ms before the write, and the
 * authorizer (which measures in milliseconds) ends it that much early: a window short by up
 * to a second with no clock spread at all.
 */
describe('attack: admin windows start at the whole second', () => {
  let table: TestTable;
  let store: SessionStore;

  beforeAll(async () => {
    table = await createTestTable('attack-admin-seconds');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
  });
  afterAll(async () => {
    await table.drop();
  });

  it('allows at most quotaMax in the quota window a reset starts, on one shared clock', async () => {
    let real = (Math.floor(Date.now() / 1000) + 10) * 1000 + 900; // x.900 s
    const keys = new KeyService(store, () => real / 1000); // as the admin handler builds it (its default clock)
    const pipeline = new Pipeline({
      config: parseConfig(JSON.stringify({ tableName: table.tableName })),
      store,
      log: silentLog,
      clock: () => real,
    });
    const { key, keyId } = await keys.create({ quotaMax: 2, quotaRenewalRate: 60 });

    await keys.resetQuota(keyId); // at x.900: the window runs to x+60.900
    const resetAt = real;
    let allowed = 0;
    real = resetAt + 50;
    for (let i = 0; i < 2; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
    real = resetAt + 59_200; // 59.2 s after the reset: still inside its 60 s window
    for (let i = 0; i < 2; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;

    expect(allowed).toBe(2);
  });
});
