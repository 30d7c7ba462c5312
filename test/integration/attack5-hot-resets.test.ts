import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { authorizerClient, drive } from '../support/hot-keys.ts';
import { pipelineOn } from '../support/pipeline.ts';

/** W: write units per item per second of the simulated ceiling. */
const W = 10;

/**
 * Attack (held): every ABA shape around a hot key's windows at once, under real concurrency.
 * Three authorizer instances hammer a hot key behind the per-item ceiling while an admin
 * resets its quota again and again (each reset moves the settings version, revokes every lease
 * and opens a window that a fill planned before it must not take from), and the instances'
 * clocks jump past the cooling time twice (each halving gives unspent leases back while fills,
 * spends and resets race it, and the counter items are filled again from nothing: the
 * `fill` numbers, window starts, `…Used` values and `shards` a stale write compares all come
 * back around). Each Allow names the window it was counted in (`quotaRenews`: its start plus
 * the renewal rate); no window may allow more than the quota.
 */
describe('attack5: a hot key reset again and again while it spreads, cools and fills again', () => {
  let table: TestTable;
  const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W });
  const offset = { ms: 0 };
  const clock = () => Date.now() + offset.ms;

  beforeAll(async () => {
    table = await createTestTable('attack5-hot-resets');
  });
  afterAll(async () => {
    await table.drop();
  });

  const session = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as StoredSession;

  it('allows no more than the quota in any window', async () => {
    const instances = Array.from({ length: 3 }, () => pipelineOn(authorizerClient(ceiling), table.tableName, { clock }));
    const adminDoc = pipelineOn(authorizerClient(ceiling), table.tableName).doc;
    const admin = new KeyService(new SessionStore({ client: adminDoc, tableName: table.tableName, retentionSeconds: 0 }), () =>
      Math.floor(Date.now() / 1000),
    );
    const quota = 60;
    const { key, keyId, session: created } = await instances[0]!.keys.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    // Windows are named to the second (`quotaRenews`): two may share a name, so the bound is the quota per window opened.
    const opened = new Map<number, number>();
    const open = (renews: number | undefined) => {
      if (renews !== undefined) opened.set(renews, (opened.get(renews) ?? 0) + 1);
    };
    open(created.quotaRenews);
    const pk = `key#${keyId}`;
    ceiling.reset();

    let resets = 0;
    const resetFaults: string[] = [];
    let done = false;
    const chaos = (async () => {
      for (let step = 1; step <= 5; step++) {
        await new Promise((resolve) => setTimeout(resolve, 700));
        if (step === 2 || step === 4) offset.ms += COOL_MS + 1000;
        await admin.resetQuota(keyId).then(
          (after) => {
            resets++;
            open(after.quotaRenews);
          },
          (error: Error) => resetFaults.push(`${error.name}: ${error.message}`),
        );
      }
      // The last window gets a second of load too.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      done = true;
    })();
    const answers: (Decision | Error)[] = [];
    while (!done)
      answers.push(
        ...(await drive(
          instances.map((i) => i.pipeline),
          key,
          500,
          6,
        )),
      );
    await chaos;

    const byWindow = new Map<number, number>();
    for (const answer of answers) {
      if (answer instanceof Error || !answer.allow) continue;
      const renews = (answer as Extract<Decision, { allow: true }>).context.quotaRenews as number;
      byWindow.set(renews, (byWindow.get(renews) ?? 0) + 1);
    }
    const faults = answers.filter((a) => a instanceof Error).length;
    const hot = await session(pk);
    const summary = JSON.stringify({
      resets,
      resetFaults,
      faults,
      answers: answers.length,
      shards: hot.shards,
      windows: [...byWindow],
      opened: [...opened],
    });
    expect(resets, summary).toBeGreaterThanOrEqual(4);
    expect(byWindow.size, summary).toBeGreaterThanOrEqual(4);
    for (const [renews, allowed] of byWindow) expect(allowed, summary).toBeLessThanOrEqual(quota * (opened.get(renews) ?? 1));
  }, 30_000);
});
