import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack (held): a plugin whose `postAuth` patches the session on every request
 * (`updateSession`, a version-guarded settings write) races an admin who resets the key's
 * quota again and again. Since a reset moves the version, each reset makes every hook write
 * in flight lose (the chain runs again on the fresh session, up to 8 times, then fails closed),
 * and every count in flight decide again. Three instances, two workers each; an admin reset
 * 100 ms after each answer. No window may allow more than the quota, and the share of
 * requests failing closed is compared with the same load without resets.
 */
describe('attack7: a plugin updateSession on every request racing resets', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('attack7-plugin-vs-resets');
  });
  afterAll(async () => {
    await table.drop();
  });

  const tagger: GatepassPlugin = {
    name: 'tag-every-request',
    async postAuth(ctx) {
      await ctx.updateSession({ metaData: { seen: ctx.now, n: Math.random() } });
    },
  };

  const run = async (quota: number, resetEveryMs: number | undefined) => {
    const instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
    const { key, keyId, session } = await instances[0]!.keys.create({ quotaMax: quota, quotaRenewalRate: 3600 });
    const until = Date.now() + 3000;
    let resets = 0;
    /** Windows opened per `quotaRenews` second (a context names its window to the second only: resets 100 ms apart share one). */
    const windows = new Map<number, number>([[session.quotaRenews as number, 1]]);
    const resetter = (async () => {
      while (resetEveryMs !== undefined && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, resetEveryMs));
        const reset = await instances[0]!.keys.resetQuota(keyId);
        windows.set(reset.quotaRenews, (windows.get(reset.quotaRenews) ?? 0) + 1);
        resets++;
      }
    })();
    const answers: (Decision | Error)[] = [];
    await Promise.all(
      instances.flatMap(({ pipelineWith }) => {
        const hooked = pipelineWith([tagger]);
        return Array.from({ length: 2 }, async () => {
          while (Date.now() < until) answers.push(await hooked.authorize(requestWith(key)).catch((error: Error) => error));
        });
      }),
    );
    await resetter;
    // Within one window each take leaves a different quotaRemaining: a value seen more often than the
    // windows of its second is a request allowed past the quota.
    const seen = new Map<string, number>();
    const byWindow = new Map<number, number>();
    for (const a of answers) {
      if (a instanceof Error || !a.allow) continue;
      const renews = a.context.quotaRenews as number;
      const id = `${renews}|${a.context.quotaRemaining}`;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      byWindow.set(renews, (byWindow.get(renews) ?? 0) + 1);
    }
    const overGranted = [...seen].filter(([id, n]) => n > (windows.get(Number(id.split('|')[0])) ?? 0));
    const overQuota = [...byWindow].filter(([renews, n]) => n > quota * (windows.get(renews) ?? 0));
    const faults = answers.filter((a) => a instanceof Error);
    return {
      resets,
      answers: answers.length,
      faultShare: faults.length / answers.length,
      faultKinds: [...new Set(faults.map((f) => (f as Error).message.slice(0, 70)))],
      byWindow: [...byWindow].map(([renews, n]) => `${n} in ${windows.get(renews) ?? 0}`),
      overGranted,
      overQuota,
    };
  };

  it('never allows more than the quota in a window, and fails few requests closed', async () => {
    const quota = 15;
    const calm = await run(quota, undefined);
    const raced = await run(quota, 100);
    const summary = JSON.stringify({ calm, raced });
    console.log(summary);
    expect(raced.resets, summary).toBeGreaterThanOrEqual(5);
    for (const run of [calm, raced]) {
      expect(run.overGranted, summary).toEqual([]);
      expect(run.overQuota, summary).toEqual([]);
    }
    expect(raced.faultShare, summary).toBeLessThan(Math.max(0.05, 2 * calm.faultShare));
  }, 30_000);
});
