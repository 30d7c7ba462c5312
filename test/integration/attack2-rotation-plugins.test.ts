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
const SESSION = { quotaMax: 10, quotaRenewalRate: 3600 };

/**
 * A rotated-in key seen by plugins: its own partition key holds a pointer, not a session, and
 * the plugin session API (`sessions.get`/`sessions.set`, an `auth` hook's `session` or
 * `createSession`) reads and writes that partition key as if it were a session.
 */
describe('attack2: a rotated-in key through the plugin session API', () => {
  let table: TestTable;
  let store: SessionStore;
  let keys: KeyService;

  beforeAll(async () => {
    table = await createTestTable('attack2-rot-plugins');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    keys = new KeyService(store, () => NOW);
  });
  afterAll(async () => {
    await table.drop();
  });

  function pipelineWith(plugins: GatepassPlugin[] = []): Pipeline {
    return new Pipeline({
      config: parseConfig(JSON.stringify({ tableName: table.tableName })),
      store,
      log: silentLog,
      clock: () => NOW_MS,
      plugins,
    });
  }

  async function rotated() {
    const { key: old, keyId } = await keys.create(SESSION);
    const next = await keys.rotate(keyId, { graceSeconds: 600 });
    return { old, keyId, newKey: next.key, newKeyId: next.keyId };
  }

  it('sessions.get on the rotated-in key returns the session it uses (not its pointer)', async () => {
    const { newKey, keyId } = await rotated();
    let seen: unknown = 'not called';
    const peek: GatepassPlugin = {
      name: 'peek',
      async postAuth(ctx) {
        seen = await ctx.sessions.get(newKey);
      },
    };
    const decision = await pipelineWith([peek]).authorize(requestWith(newKey));
    expect(decision.allow).toBe(true);
    expect(seen).toMatchObject({ keyId, quotaMax: 10 });
  });

  it('a postAuth hook that renews by sessions.set(presented key) works on the rotated-in key (the Tyk renew pattern)', async () => {
    const { newKey } = await rotated();
    const renew: GatepassPlugin = {
      name: 'renew',
      async postAuth(ctx) {
        await ctx.sessions.set(ctx.request.headers.authorization!, { ...SESSION, expires: ctx.now + 600 });
      },
    };
    const decision = await pipelineWith([renew]).authorize(requestWith(newKey));
    expect(decision.allow).toBe(true);
  });

  it('an auth hook answering { key: rotated-in key, session } is allowed on the rotated session', async () => {
    const { newKey, keyId } = await rotated();
    const auth: GatepassPlugin = { name: 'auth-session', auth: () => ({ key: newKey, session: SESSION }) };
    const decision = await pipelineWith([auth]).authorize(requestWith(undefined));
    expect(decision).toMatchObject({ allow: true, principalId: keyId });
  });

  it('an auth hook answering { key: rotated-in key, createSession } uses the rotated session, one quota', async () => {
    const { newKey, keyId } = await rotated();
    const auth: GatepassPlugin = { name: 'auth-create', auth: () => ({ key: newKey, createSession: SESSION }) };
    const pipeline = pipelineWith([auth]);
    const decision = await pipeline.authorize(requestWith(undefined));
    expect(decision).toMatchObject({ allow: true, principalId: keyId });
    expect((await keys.get(keyId)).quotaRemaining).toBe(9);
  });
});
