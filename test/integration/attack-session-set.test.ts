import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import type { GatepassPlugin, SessionInit } from '../../lambdas/core/plugins/plugin.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

const NOW_MS = Math.floor(Date.now() / 1000) * 1000;

/**
 * Over-grants through a plugin's whole-session write (`sessions.set`, Tyk's `TykSetKeyData`,
 * and an `auth` hook's `session`): the write sets the quota counters absolutely, guarded by
 * the settings version only, which counting never moves.
 */
describe('attack: whole-session writes by plugins', () => {
  let table: TestTable;
  let keys: KeyService;
  let pipelineWith: (plugins?: readonly GatepassPlugin[]) => Pipeline;

  beforeAll(async () => {
    table = await createTestTable('attack-session-set');
    ({ keys, pipelineWith } = pipelineOn(table.client, table.tableName, { clock: () => NOW_MS }));
  });
  afterAll(async () => {
    await table.drop();
  });

  async function allowed(pipeline: Pipeline, key: string, n: number): Promise<number> {
    let count = 0;
    for (let i = 0; i < n; i++) if ((await pipeline.authorize(requestWith(key))).allow) count++;
    return count;
  }

  it('never allows more than quotaMax in one window when a postAuth hook saves back the session it read (TykGetKeyData → TykSetKeyData)', async () => {
    const { key } = await keys.create({ quotaMax: 5, quotaRenewalRate: 3600 });
    let read!: () => void;
    const hookRead = new Promise<void>((resolve) => (read = resolve));
    let release!: () => void;
    const mayWrite = new Promise<void>((resolve) => (release = resolve));
    // The forum pattern: renew the session by writing back what was read, with a later expiry.
    const renew: GatepassPlugin = {
      name: 'renew-by-set',
      async postAuth(ctx) {
        const seen = ctx.session;
        read();
        await mayWrite; // other requests are counted while this one is in flight
        await ctx.sessions.set(ctx.request.headers.authorization!, { ...(seen as SessionInit), expires: ctx.now + 600 });
      },
    };

    const pending = pipelineWith([renew]).authorize(requestWith(key));
    await hookRead;
    const during = await allowed(pipelineWith(), key, 4); // counted: 4 of 5
    release();
    const renewed = (await pending).allow ? 1 : 0;
    const after = await allowed(pipelineWith(), key, 10);

    // quotaMax 5 in one window: at most 5 Allows in all.
    expect(during + renewed + after).toBeLessThanOrEqual(5);
  });

  it('never allows more than quotaMax when an auth hook answers the session every time', async () => {
    const token = `tok-${Math.random()}-padding-xx`;
    // The auth hook gives the session on every request (README: `session` replaces it every time).
    const auth: GatepassPlugin = {
      name: 'auth-session',
      auth: (ctx) => ({
        key: ctx.request.headers['x-token']!,
        session: { quotaMax: 3, quotaRenewalRate: 3600, expires: ctx.now + 600 },
      }),
    };
    const pipeline = pipelineWith([auth]);
    let count = 0;
    for (let i = 0; i < 10; i++) {
      if ((await pipeline.authorize(requestWith(undefined, { headers: { 'x-token': token } }))).allow) count++;
    }

    expect(count).toBeLessThanOrEqual(3);
  });
});
