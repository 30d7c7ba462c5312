import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { spreadKey } from '../support/hot-keys.ts';

/**
 * Attack: a key with a rate limit AND a quota, spread over counter items. A fill renews only
 * the windows the counter item cannot spend in (`needs`), keeps the others as seen, and
 * "spends this request" (`<w>Spent = 1`) only in the windows it fills. So when the rate lease
 * is used up (or its window is over) while the quota lease still has room, the fill gives a
 * new rate lease and allows the request without spending anything of the quota lease: that
 * request is never counted against the quota. It happens at every rate-only refill of every
 * counter item — no race needed, one instance, plain requests.
 *
 * Here: one counter item (shards = 1 written on the session item, as a throttle would), rate
 * 5 per second, quota 20 per day. Each new rate window's first request is a rate-only refill.
 */
describe('attack3: a rate-only refill of a counter item', () => {
  let table: TestTable;
  let keys: KeyService;
  let pipeline: Pipeline;
  let nowMs = Math.floor(Date.now() / 1000) * 1000;

  beforeAll(async () => {
    table = await createTestTable('attack3-refill');
    ({ keys, pipeline } = pipelineOn(table.client, table.tableName, { clock: () => nowMs }));
  });
  afterAll(async () => {
    await table.drop();
  });

  it('never allows more than the quota when rate leases are renewed while the quota lease has room', async () => {
    const quota = 20;
    const { key, keyId } = await keys.create({ rate: 5, per: 1, quotaMax: quota, quotaRenewalRate: 86_400 });
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 1);

    let allowed = 0;
    for (let second = 0; second < 10; second++) {
      for (let i = 0; i < 8; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
      nowMs += 1000;
    }
    // On the bug: 24 allowed (each rate window after the first lets one request through quota-free).
    expect(allowed).toBeLessThanOrEqual(quota);
  });
});
