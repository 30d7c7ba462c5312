import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { readItem, spreadKey } from '../support/hot-keys.ts';
import { readsSessionWithin, watchOwnCooling } from '../support/own-cooling.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack24 (found, fixed: a busy count's item is not a read — its counts deny nothing): a key on ONE counter item, its whole quota leased to #c0 (quotaUsed = quota on the
 * session item) but most of it unspent; #c0's rate lease spent (the spend fails on the rate,
 * the session item has rate room). Past the cooling time, A's request (from a read: counters
 * known) cools 1 → 0, giving the unspent quota back; the session item's reads are throttled
 * from then on for `ms`. `busyOn`/`#readAgain` now hand the pipeline the request's item with
 * `shards: 0` — with the counts read before the cooling (quota used up) and `countersKnown`
 * still true: the verdict is a quota denial, which reads first; that read throttled.
 * Expected: allowed (79 left), no fault.
 * Observed at 353148d: 12 of 12 runs (ms 200–4000) the request throws the throttle (the
 * pipeline's store.get for the denial's read) — a fail-closed 500 — about 200 ms in, the
 * cooling landed (quotaUsed 80 → 1). At 0a7a91c the busy retry kept the request's item
 * (shards 1, counters unknown): counted again on #c0, gone, a fill whose condition
 * (shards > 0) failed returned the item, and the request was allowed on it with no read.
 */
describe('attack24: a cooling back to the session item, its re-reads throttled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a24-cooled-to-session');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const ms of [200, 600, 1500, 4000])
    it(`allows with room (reads throttled ${ms} ms after the cooling)`, async () => {
      let nowMs = Date.now();
      const clock = () => nowMs;
      const a = lambdaClient();
      let armed = false;
      let pk = '';
      const log: string[] = [];
      const cooling = watchOwnCooling(a, (attempt, cooled) => {
        if (armed) log.push(`${attempt.command} ${attempt.pk.replace(pk, '')}${cooled.landedAt > 0 ? ' (after)' : ''}`);
        return readsSessionWithin(attempt, cooled, pk, ms);
      });
      cooling.armed = false;
      const { pipeline, pipelineWith, keys } = pipelineOn(a, table.tableName, { clock });
      const { key, keyId } = await keys.create({ quotaMax: 80, quotaRenewalRate: 86_400, rate: 1000, per: 60 });
      pk = `key#${keyId}`;
      await spreadKey(table.doc, table.tableName, pk, 1);
      expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      const get = (p: string) => readItem(table, p);
      const before = (await get(pk)) as StoredSession;
      const c0 = await get(`${pk}#c0`);
      await table.doc.send(
        new UpdateCommand({ TableName: table.tableName, Key: { pk: `${pk}#c0` }, UpdateExpression: 'SET rateSpent = rateLease' }),
      );
      nowMs += COOL_MS + 1000;
      armed = true;
      cooling.armed = true;
      // A fresh pipeline of the same instance (same store): its request starts from a read.
      const fresh = pipelineWith();
      const t0 = Date.now();
      const r = await fresh.authorize(requestWith(key)).catch((e: unknown) => ({ error: String(e).slice(0, 200) }));
      const took = Date.now() - t0;
      const after = (await get(pk)) as StoredSession;
      const summary = JSON.stringify({
        ms,
        before: { shards: before.shards, quotaUsed: before.quotaUsed, rateUsed: before.rateUsed },
        c0: c0 && { q: [c0.quotaLease, c0.quotaSpent], r: [c0.rateLease, c0.rateSpent] },
        landed: cooling.landedAt > 0,
        r: 'error' in r ? r : { allow: r.allow, reason: (r as { reason?: string }).reason },
        took,
        after: { shards: after.shards, quotaUsed: after.quotaUsed },
        log,
      });
      expect(cooling.landedAt > 0, summary).toBe(true);
      expect(r, summary).toMatchObject({ allow: true });
    }, 30_000);
});
