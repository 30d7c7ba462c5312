import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack that held: a session saved back as it was read must be a write that changes nothing
 * (no new version: on a hot key every new version makes requests in flight decide again). Tried
 * with a session that has every kind of setting (alias, per-API limit, URL rights with methods,
 * metaData of strings, numbers and booleans, tags, an expiry): an admin GET → PUT of the body as
 * answered, a GET → PATCH of the whole body, and a `postAuth` hook that saves its session back
 * with a Tyk-style `sessions.set(ownKey, session)` or `updateSession(session)` on each request.
 * Observed: the version stays 1 throughout, every request allowed, 5 counted under api1's own limit.
 */
describe('attack10: a session saved back as read', () => {
  let table: TestTable;
  let env: ReturnType<typeof pipelineOn>;

  beforeAll(async () => {
    table = await createTestTable('attack10-saved-back');
    env = pipelineOn(table.client, table.tableName);
  });
  afterAll(async () => {
    await table.drop();
  });

  const rich = () => ({
    alias: 'rich',
    expires: Math.floor(Date.now() / 1000) + 86_400,
    quotaMax: 10,
    quotaRenewalRate: 3600,
    rate: 100,
    per: 1,
    accessRights: {
      api1: {
        apiName: 'pets',
        allowedUrls: [{ url: '/pets', methods: ['GET'] }],
        limit: { quotaMax: 50, quotaRenewalRate: 3600 },
      },
    },
    metaData: { plan: 'gold', n: 1.5, on: true },
    tags: ['b', 'a'],
  });

  it('keeps the version through admin GET → PUT and GET → PATCH', async () => {
    const { keyId } = await env.keys.create(rich());
    const read = await env.keys.get(keyId);
    const put = await env.keys.replace(keyId, JSON.parse(JSON.stringify(read)));
    // (A PATCH naming quotaRemaining or quotaRenews sets the counters: those are left out.)
    const { quotaRemaining: _r, quotaRenews: _n, ...body } = await env.keys.get(keyId);
    const patched = await env.keys.update(keyId, JSON.parse(JSON.stringify(body)));
    expect([read.version, put.version, patched.version]).toEqual([1, 1, 1]);
  });

  it('keeps the version when a hook saves its session back on every request', async () => {
    let saves = 0;
    const savers: GatepassPlugin[] = [
      {
        name: 'set-back',
        async postAuth(ctx) {
          await ctx.sessions.set(ctx.request.headers.authorization!, ctx.session as never);
          saves++;
        },
      },
      {
        name: 'update-back',
        async postAuth(ctx) {
          const { keyId: _k, quotaRemaining: _r, quotaRenews: _n, ...settings } = ctx.session as unknown as Record<string, unknown>;
          await ctx.updateSession(settings as never);
          saves++;
        },
      },
    ];
    const { key, keyId } = await env.keys.create(rich());
    const pipeline = env.pipelineWith(savers);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await pipeline.authorize(requestWith(key, { path: '/pets' })));
    const after = (await env.store.get(`key#${keyId}`)) as unknown as Record<string, unknown>;
    expect(answers.map((a) => (a.allow ? 'allow' : a.reason))).toEqual(Array(5).fill('allow'));
    expect(saves).toBe(10);
    // Counted apart, under api1's own limit.
    expect({ version: after.version, used: after['quotaUsed@api1'] }).toEqual({ version: 1, used: 5 });
  });
});
