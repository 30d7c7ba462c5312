import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount, reasonsOf } from '../support/hot-account.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack (held): liveness of the view demotion under fills that race. Four instances, two
 * requests at a time each, hammer a hot key (8 counter items, quota 400) with nothing
 * throttled, as is and through two quota raises (450, 500; each deletes every counter item:
 * spends find them missing, mark them, and fill them blind). Every fill that loses to
 * another is a new view that demotes what the request saw; can requests run out of steps and
 * budget and fail closed (500) while the key has quota left, or is more than the quota
 * allowed?
 * Observed (3 runs each, on a loaded machine): no fault in any run; as is, 221-400 allowed
 * (400 when the load let it finish in 3 s), account exact (used 400 = allowed + unspent);
 * with raises, 159-363 allowed, never more than 500, at most 1-2 answers over 1 s; the quota
 * below 500 not allowed is leases the raises revoked (documented).
 */
describe('attack19: a hot key filled by four instances at once, nothing throttled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a19-fill-contention');
  });
  afterAll(async () => {
    await table.drop();
  });

  it.each([
    ['no change', []],
    ['two raises of its quota', [450, 500]],
  ] as const)(
    'answers every request while it has quota left, none fails closed (%s)',
    async (_, raises) => {
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
      const instances = [0, 1, 2, 3].map(instance);
      const a = instances[0]!;
      const quota = 400;
      const { key, keyId } = await a.keys.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
      sessionPk = `key#${keyId}`;
      throttles = 2;
      const answers: { answer: Decision | Error; ms: number }[] = [];
      answers.push({ answer: await a.pipeline.authorize(requestWith(key)), ms: 0 });
      expect(await a.store.get(sessionPk)).toMatchObject({ shards: 8 });
      const until = Date.now() + 3000;
      await Promise.all([
        (async () => {
          for (const quotaMax of raises) {
            await new Promise((resolve) => setTimeout(resolve, 800));
            await a.keys.update(keyId, { quotaMax });
          }
        })(),
        ...instances.flatMap(({ pipeline }) =>
          [0, 1].map(async () => {
            while (Date.now() < until) {
              const started = performance.now();
              const answer = await pipeline.authorize(requestWith(key)).catch((error: Error) => error);
              answers.push({ answer, ms: Math.round(performance.now() - started) });
              await new Promise((resolve) => setImmediate(resolve));
            }
          }),
        ),
      ]);
      const all = answers.map((x) => x.answer);
      const account = await hotAccount(a.doc, table.tableName, sessionPk);
      const slow = answers.filter((x) => x.ms > 1000).length;
      const summary = JSON.stringify({ allowed: allowsOf(all), reasons: reasonsOf(all), slow, account });
      console.log(summary);
      expect(allowsOf(all), summary).toBeLessThanOrEqual(raises.at(-1) ?? quota);
      expect(all.filter((x) => x instanceof Error).length, summary).toBe(0);
    },
    15_000,
  );
});
