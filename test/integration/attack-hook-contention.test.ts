import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../lambdas/core/model/keys.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { concurrently, requestWith } from '../support/pipeline.ts';

const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
const NOW = NOW_MS / 1000;

/**
 * A postAuth hook that writes the session on every request (a last-seen stamp, a request
 * counter in metaData: common plugins) moves the settings version, so every other request
 * in flight on the key loses its counting write, runs the hooks again (another write) and
 * tries again: concurrent requests of one key can exhaust the contention bound and fail
 * (500) although nothing is wrong with the key. A documented limit (README, "Plugins"): such
 * a hook serializes its key. What must hold is safety: each answer is an Allow or a fault
 * (fail closed), the faults are the contention bound's, and every Allow was counted.
 */
describe('attack: a session-writing postAuth hook under concurrent requests', () => {
  let table: TestTable;
  let store: SessionStore;
  let keys: KeyService;

  beforeAll(async () => {
    table = await createTestTable('attack-hook-contention');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    keys = new KeyService(store, () => NOW);
  });
  afterAll(async () => {
    await table.drop();
  });

  function outcomes(pipeline: () => Pipeline, key: string, n: number): Promise<string[]> {
    return concurrently(n, (i) =>
      pipeline()
        .authorize(requestWith(key, { sourceIp: `10.0.0.${i}` }))
        .then(
          (decision) => (decision.allow ? 'allow' : decision.reason),
          (error: Error) => `fault: ${error.message}`,
        ),
    );
  }

  it('control: without the hook, 16 concurrent requests are all answered', async () => {
    const { key } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 3600 });
    const plain = () =>
      new Pipeline({ config: parseConfig(JSON.stringify({ tableName: table.tableName })), store, log: silentLog, clock: () => NOW_MS });

    expect((await outcomes(plain, key, 16)).filter((result) => result !== 'allow')).toEqual([]);
  });

  it('fails closed, never open, when 16 concurrent requests each write the session in a hook', async () => {
    const { key } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 3600 });
    const stamp: GatepassPlugin = {
      name: 'last-seen',
      async postAuth(ctx) {
        await ctx.updateSession({ metaData: { ...ctx.session.metaData, lastSeen: `${Date.now()}-${Math.random()}` } });
      },
    };
    const pipeline = () =>
      new Pipeline({
        config: parseConfig(JSON.stringify({ tableName: table.tableName })),
        store,
        log: silentLog,
        clock: () => NOW_MS,
        plugins: [stamp],
      });

    const results = await outcomes(pipeline, key, 16);

    const allowed = results.filter((result) => result === 'allow').length;
    expect(allowed).toBeGreaterThan(0);
    expect(results.filter((result) => result !== 'allow').every((result) => /contention|lost \d+ writes|gave up/.test(result))).toBe(true);
    expect((await keys.get(keyIdOf(key))).quotaRemaining).toBe(1000 - allowed);
  });
});
