import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
const SESSION = { quotaMax: 10, quotaRenewalRate: 3600 };

/**
 * A rotated-in key seen by plugins: its own partition key holds a pointer, not a session, and
 * the plugin session API (`sessions.get`/`sessions.set`, an `auth` hook's `session` or
 * `createSession`) reads and writes that partition key as if it were a session.
 */
describe('attack2: a rotated-in key through the plugin session API', () => {
  let table: TestTable;
  let keys: KeyService;
  let pipelineWith: (plugins?: readonly GatepassPlugin[]) => Pipeline;

  beforeAll(async () => {
    table = await createTestTable('attack2-rot-plugins');
    ({ keys, pipelineWith } = pipelineOn(table.client, table.tableName, { clock: () => NOW_MS }));
  });
  afterAll(async () => {
    await table.drop();
  });

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
