import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount, reasonsOf } from '../support/hot-account.ts';
import { drive, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * Attack that held: the end of a hot key's quota while its leases move. Three instances (4
 * workers each, half of them running a `postAuth` hook whose write changes nothing) spend a
 * quota of 24 on 4 counter items while an admin changes metaData every 300 ms (a change that
 * moves the leases to its version: failed spends then meet counter items at a newer version
 * and decide again) and PATCHes the same metaData again (a change that writes nothing).
 * Observed (a busy machine: about 10 requests/s in all): 24 of 24 allowed, then 16
 * quota_exceeded; the account exact (session count 24 = Allows + 0 unspent), no stray lease.
 */
describe('attack10: the end of a hot quota while leases move', () => {
  let table: TestTable;
  let instances: ReturnType<typeof pipelineOn>[];

  beforeAll(async () => {
    table = await createTestTable('attack10-hot-carry-quota');
    instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
  });
  afterAll(async () => {
    await table.drop();
  });

  const noop: GatepassPlugin = {
    name: 'noop-save',
    async postAuth(ctx) {
      await ctx.updateSession({ tags: ctx.session.tags });
    },
  };

  it('allows at most the quota, the account exact', async () => {
    const quota = 24;
    const admin = instances[0]!.keys;
    const { key, keyId } = await admin.create({ quotaMax: quota, quotaRenewalRate: 86_400, tags: ['t'] });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    let running = true;
    const changes = (async () => {
      for (let i = 0; running; i++) {
        await admin.update(keyId, { metaData: { i } });
        await admin.update(keyId, { metaData: { i } });
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    const pipelines = instances.flatMap((x) => [x.pipeline, x.pipelineWith([noop])]);
    const answers = await drive(pipelines, key, 4000, 2);
    running = false;
    await changes;
    const account = await hotAccount(table.doc, table.tableName, pk);
    const allowed = allowsOf(answers);
    const summary = JSON.stringify({ reasons: reasonsOf(answers), allowed, account });
    console.log(summary);
    expect(allowed, summary).toBeLessThanOrEqual(quota);
    expect(account.used, summary).toBe(allowed + account.unspent);
    expect(account.strays, summary).toEqual([]);
    expect(allowed, summary).toBeGreaterThanOrEqual(quota / 2);
  }, 15_000);
});
