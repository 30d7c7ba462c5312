import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { allowsOf, reasonsOf } from '../support/hot-account.ts';
import { drive, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * Attack: a hot key (spread over 4 counter items, quota 40) hammered by three instances while
 * its settings change — an admin without If-Match every 150 ms (a PATCH of its metadata only,
 * a PATCH setting the quota it already has, a PUT of the same body, a rotation with a grace),
 * or a plugin updating the session's metadata on every request.
 * Found: every change deleted the counter items and gave nothing back, so each change lost up
 * to a round of unspent leases; 7 to 29 of 40 were allowed, `quotaRemaining` read 0.
 * Now a change that touches no limit or count moves the leases to its version (`keepsLeases`):
 * exactly 40 allowed and the account exact, for every kind of change.
 */
describe('attack8: a hot key under settings churn keeps its quota', () => {
  let table: TestTable;
  let instances: ReturnType<typeof pipelineOn>[];
  const quota = 40;
  const body = { quotaMax: quota, quotaRenewalRate: 86_400, metaData: { n: 0 } };

  beforeAll(async () => {
    table = await createTestTable('attack8-hot-churn');
    instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
  });
  afterAll(async () => {
    await table.drop();
  });

  type Change = (keyId: string, i: number) => Promise<unknown>;
  const admin = () => instances[0]!.keys;
  const changes: Record<string, Change> = {
    'PATCH of metaData': (keyId, i) => admin().update(keyId, { metaData: { n: i } }),
    'PATCH of the same quotaMax': (keyId) => admin().update(keyId, { quotaMax: quota }),
    'PUT of the same body': (keyId) => admin().replace(keyId, body),
    'rotation with a grace': (keyId) => admin().rotate(keyId, { graceSeconds: 3600 }),
  };

  const run = async (change: Change | undefined, pipelines: () => Pipeline[] = () => instances.map((x) => x.pipeline), exact = true) => {
    const { key, keyId } = await admin().create(body);
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 4);
    let done = false;
    let writes = 0;
    const churn = (async () => {
      for (let i = 0; change !== undefined && !done; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        await change(keyId, i).catch(() => undefined);
        writes++;
      }
    })();
    const answers = await drive(pipelines(), key, 3000, 4);
    done = true;
    await churn;
    const allowed = allowsOf(answers);
    const shown = await admin().get(keyId);
    const summary = JSON.stringify({ writes, reasons: reasonsOf(answers), quotaRemaining: shown.quotaRemaining });
    console.log(summary);
    // No over-grant, and what the key shows used is what it allowed (it allowed the whole quota while asked).
    expect(allowed, summary).toBeLessThanOrEqual(quota);
    if (exact) expect({ allowed, quotaRemaining: shown.quotaRemaining }, summary).toEqual({ allowed: quota, quotaRemaining: 0 });
  };

  it('baseline without changes: allows exactly the quota (held)', () => run(undefined), 20_000);

  for (const [name, change] of Object.entries(changes)) {
    it(`a ${name} without If-Match every 150 ms does not burn the quota`, () => run(change), 20_000);
  }

  /**
   * Reported, held on over-grant only: a plugin updating the session on every request of a hot
   * key under 12 workers. Observed: 0 allowed, 19 PluginError and 3 ContentionError in 3 s (the
   * hook writes contend with one another; each that lands also revokes the leases).
   */
  it('a plugin updating the metadata on every request never over-grants (reported)', async () => {
    const lastSeen: GatepassPlugin = {
      name: 'last-seen',
      async postAuth(ctx) {
        await ctx.updateSession({ metaData: { lastSeen: ctx.now } });
      },
    };
    await run(undefined, () => instances.map((x) => x.pipelineWith([lastSeen])), false);
  }, 20_000);
});
