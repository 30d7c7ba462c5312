import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { LeaseWrites } from '../../lambdas/core/store/lease-writes.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * Attack22: a busy `current` that names 0 counter items. A key on one counter item (#c0, hot:
 * throttled for instance A) is cooled to its session item by another instance just before A's
 * request. A's count finds #c0 throttled twice, judges a growth on its fresh view (no read), its
 * growth fails on the cooled session item (shards 0), and the count ends with a read: same
 * version, no counter items — busy with `{ ...known, shards: 0 }`. The pipeline then counts on
 * the session item directly, with the request's (leased) counts and `countersKnown`.
 * Expected: allowed, counted exactly once on the session item; no over-grant when the quota
 * is at its last request; a denial when it is used up.
 * Held (2 of 2 runs each): exact (quota 1000: 2 allowed, +2; quota 3: allowed then
 * quota_exceeded, 3 of 3). The parent answers the same but after 7 busy rounds (2 throttled spends,
 * a failed growth, a read each) against 1 now.
 */
describe('attack22 (held): busy current with no counter items (cooled to its session item)', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a22-cooled-session');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const quota of [1000, 3])
    it(`quota ${quota}: answered on the session item, counted once`, async () => {
      let throttling = false;
      let pk = '';
      const log: string[] = [];
      const a = lambdaClient();
      a.middlewareStack.add(
        (next, context) => async (args) => {
          const command = String(context.commandName).replace('Command', '');
          const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
          if (throttling) {
            log.push(`${command} ${p.replace(pk, '')}`);
            if (command === 'UpdateItem' && p === `${pk}#c0`) throw throttle('item');
          }
          return next(args);
        },
        { step: 'deserialize', priority: 'low', name: 'attack' },
      );
      const A = pipelineOn(a, table.tableName);
      const { key, keyId } = await A.keys.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
      pk = `key#${keyId}`;
      await spreadKey(table.doc, table.tableName, pk, 1);
      expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      if (quota === 3) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      const get = async (p: string) =>
        (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: p }, ConsistentRead: true }))).Item;
      expect(await new LeaseWrites(table.doc, table.tableName).cool((await A.store.get(pk))!, Date.now() + COOL_MS + 1000)).toBe('cooled');
      const before = await get(pk);
      expect(before?.shards).toBeUndefined();
      throttling = true;
      const answers = [];
      for (let i = 0; i < 2; i++) answers.push(await A.pipeline.authorize(requestWith(key)).catch((e: Error) => e.message));
      throttling = false;
      const after = await get(pk);
      const summary = JSON.stringify({
        quota,
        answers: answers.map((x) => (typeof x === 'string' ? x : x.allow || x.reason)),
        before: before?.quotaUsed,
        after: after?.quotaUsed,
        shards: after?.shards,
        log,
      });
      const allowed = answers.filter((x) => typeof x !== 'string' && x.allow).length;
      expect((after?.quotaUsed as number) - (before?.quotaUsed as number), summary).toBe(allowed);
      expect(after?.quotaUsed as number, summary).toBeLessThanOrEqual(quota);
      expect(
        answers.every((x) => typeof x !== 'string'),
        summary,
      ).toBe(true);
    }, 20_000);
});
