import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount, reasonsOf } from '../support/hot-account.ts';
import { drive, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * Attack (found, fixed; availability): a `postAuth` hook that makes sure of a setting on every
 * request — `updateSession({ metaData: { plan: 'gold' } })`, already so — on a hot key
 * (4 counter items, quota 40) that three instances hammer (4 workers each).
 * The session service now names only the settings that differ, so the write names none and
 * keeps the leases; but it is still written, and still moves the version. Every such write
 * makes every other request in flight (and every instance's remembered settings) decide
 * again, re-running its hook, which writes again: the requests chase one another's versions.
 * Observed before the fix, three runs: 2 to 3 allowed of 40 in 3 s, the rest failing closed
 * (9 to 17 PluginError "postAuth lost 8 writes in a row to concurrent requests"), the version
 * moved 23 to 33 times by writes that changed nothing. Without the hook: 40 of 40.
 * Fixed (store.ts `change`): a change that names nothing writes nothing; it checks the guard
 * on a strongly consistent read, and the version stands.
 */
describe('attack9: a hook whose write changes nothing, on a hot key', () => {
  let table: TestTable;
  let instances: ReturnType<typeof pipelineOn>[];

  beforeAll(async () => {
    table = await createTestTable('attack9-noop-hook');
    instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
  });
  afterAll(async () => {
    await table.drop();
  });

  const ensureGold: GatepassPlugin = {
    name: 'ensure-gold',
    async postAuth(ctx) {
      await ctx.updateSession({ metaData: { plan: 'gold' } });
    },
  };

  it('serves the quota as a key without the hook does', async () => {
    const quota = 40;
    const { key, keyId } = await instances[0]!.keys.create({ quotaMax: quota, quotaRenewalRate: 86_400, metaData: { plan: 'gold' } });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    const answers = await drive(
      instances.map((x) => x.pipelineWith([ensureGold])),
      key,
      3000,
      4,
    );
    const account = await hotAccount(table.doc, table.tableName, pk);
    const allowed = allowsOf(answers);
    const faults = [...new Set(answers.flatMap((a) => (a instanceof Error ? [a.message.slice(0, 90)] : [])))];
    const summary = JSON.stringify({ reasons: reasonsOf(answers), faults, ...account });
    console.log(summary);
    expect(allowed, summary).toBeLessThanOrEqual(quota);
    // Half the quota in 3 s would do; a key without the hook gets all of it.
    expect(allowed, summary).toBeGreaterThanOrEqual(quota / 2);
  }, 20_000);
});
