import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount, reasonsOf } from '../support/hot-account.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack (held): the blind fill of counter items found missing. Three instances hammer a hot
 * key (8 counter items, quota 40) while its quota is raised three times (60, 80, 90): each
 * raise deletes every counter item, so the instances' spends find them missing and mark them
 * to be filled blind (on condition they still do not exist) by their next fill — marks that
 * go stale as soon as another instance fills those items. Can a stale mark make a fill
 * overwrite or duplicate a lease: more allowed than the last quota, or an Allow that the
 * session item does not count?
 * Observed (6 runs): 55-90 allowed of 90, never more; used - unspent >= allowed every time, no
 * stray lease (the gap is leases each raise revoked); 3 ContentionErrors in one run (fills of
 * three instances conflicting on the session item after a raise; the parent commit showed
 * Allows as slow, up to 1.2 s, in such runs).
 */
describe('attack19: counter items found missing, filled blind under three instances and raises', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a19-missing-marks');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('never allows more than the quota, and counts every Allow', async () => {
    let sessionPk = '';
    let throttles = 0;
    const instance = (n: number) => {
      const client: DynamoDBClient = lambdaClient();
      throttleAttempts(client, (command, p) => {
        if (n !== 0 || command !== 'UpdateItemCommand' || p !== sessionPk || throttles === 0) return undefined;
        throttles--;
        return 'item';
      });
      return pipelineOn(client, table.tableName);
    };
    const instances = [0, 1, 2].map(instance);
    const a = instances[0]!;
    const { key, keyId } = await a.keys.create({ quotaMax: 40, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    throttles = 2;
    const answers: (Decision | Error)[] = [await a.pipeline.authorize(requestWith(key))];
    expect(await a.store.get(sessionPk)).toMatchObject({ shards: 8 });

    const until = Date.now() + 3000;
    const raises = (async () => {
      for (const quotaMax of [60, 80, 90]) {
        await new Promise((resolve) => setTimeout(resolve, 700));
        await a.keys.update(keyId, { quotaMax });
      }
    })();
    await Promise.all([
      raises,
      ...instances.flatMap(({ pipeline }) =>
        [0, 1].map(async () => {
          while (Date.now() < until) {
            answers.push(await pipeline.authorize(requestWith(key)).catch((error: Error) => error));
            await new Promise((resolve) => setImmediate(resolve));
          }
        }),
      ),
    ]);
    const allowed = allowsOf(answers);
    const account = await hotAccount(a.doc, table.tableName, sessionPk);
    const summary = JSON.stringify({ allowed, reasons: reasonsOf(answers), account });
    console.log(summary);
    expect(allowed, summary).toBeLessThanOrEqual(90);
    // Every Allow is counted on the session item (used = spent + unspent leases), and no lease is left outside it.
    expect(account.used - account.unspent, summary).toBeGreaterThanOrEqual(allowed);
    expect(account.strays, summary).toEqual([]);
  }, 15_000);
});
