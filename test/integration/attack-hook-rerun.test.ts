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
 * "Hooks judge the settings the request is decided on" (docs/ARCHITECTURE.md, claim 7):
 * when a later plugin's `updateSession` loses to an admin write, only that plugin is run
 * again on the fresh session; the plugins before it judged the old settings.
 */
describe('attack: postAuth hooks after a lost updateSession', () => {
  let table: TestTable;
  let store: SessionStore;
  let keys: KeyService;

  beforeAll(async () => {
    table = await createTestTable('attack-hook-rerun');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    keys = new KeyService(store, () => NOW);
  });
  afterAll(async () => {
    await table.drop();
  });

  it("denies when an admin write lands between one plugin's check and the next plugin's updateSession", async () => {
    const { key, keyId } = await keys.create({ quotaMax: 100, tags: ['gold'] });
    let checked!: () => void;
    const hookChecked = new Promise<void>((resolve) => (checked = resolve));
    let release!: () => void;
    const adminMayWrite = new Promise<void>((resolve) => (release = resolve));
    const goldOnly: GatepassPlugin = {
      name: 'gold-only',
      async postAuth(ctx) {
        const gold = ctx.session.tags.includes('gold');
        checked();
        await adminMayWrite;
        return gold ? undefined : { deny: { reason: 'not_gold', message: 'Gold only' } };
      },
    };
    // Any second plugin that writes the session (a last-seen stamp, a renewal).
    const stamp: GatepassPlugin = {
      name: 'stamp',
      async postAuth(ctx) {
        await ctx.updateSession({ metaData: { ...ctx.session.metaData, lastSeen: ctx.now } });
      },
    };
    const pipeline = new Pipeline({
      config: parseConfig(JSON.stringify({ tableName: table.tableName })),
      store,
      log: silentLog,
      clock: () => NOW_MS,
      plugins: [goldOnly, stamp],
    });

    const pending = pipeline.authorize(requestWith(key));
    await hookChecked;
    await keys.update(keyId, { tags: ['silver'] }); // downgraded before the request is decided
    release();
    const decision = await pending;

    expect(decision).toMatchObject({ allow: false, reason: 'not_gold' });
  });
});
