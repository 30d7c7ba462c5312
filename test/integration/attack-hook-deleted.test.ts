import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
const NOW = NOW_MS / 1000;

/**
 * A key deleted (and re-created) while a postAuth hook is running: the hook's
 * `updateSession` finds another life of the key. That is a deleted key, not a plugin fault.
 */
describe('attack: a key deleted under a running postAuth hook', () => {
  let table: TestTable;
  let store: SessionStore;
  let keys: KeyService;

  beforeAll(async () => {
    table = await createTestTable('attack-hook-deleted');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    keys = new KeyService(store, () => NOW);
  });
  afterAll(async () => {
    await table.drop();
  });

  async function racing(afterRead: (keyId: string, key: string) => Promise<void>) {
    const { key, keyId } = await keys.create({ key: `gp_attack-${Math.random()}-padding`, quotaMax: 100 });
    let read!: () => void;
    const hookRead = new Promise<void>((resolve) => (read = resolve));
    let release!: () => void;
    const mayWrite = new Promise<void>((resolve) => (release = resolve));
    const renew: GatepassPlugin = {
      name: 'renew-on-expiry',
      async postAuth(ctx) {
        read();
        await mayWrite;
        await ctx.updateSession({ expires: ctx.now + 60 });
      },
    };
    const pipeline = new Pipeline({
      config: parseConfig(JSON.stringify({ tableName: table.tableName })),
      store,
      log: silentLog,
      clock: () => NOW_MS,
      plugins: [renew],
    });
    const pending = pipeline.authorize(requestWith(key));
    await hookRead;
    await afterRead(keyId, key);
    release();
    return pending;
  }

  it('denies key_not_found, without blaming the plugin, when the key was deleted', async () => {
    const decision = racing((keyId) => keys.delete(keyId));

    await expect(decision).resolves.toMatchObject({ allow: false, reason: 'key_not_found' });
  });

  it('decides on the new life of the key when it was deleted and re-created', async () => {
    const decision = racing(async (keyId, key) => {
      await keys.delete(keyId);
      await keys.create({ key, quotaMax: 100, isInactive: true });
    });

    await expect(decision).resolves.toMatchObject({ allow: false, reason: 'key_inactive' });
  });
});
