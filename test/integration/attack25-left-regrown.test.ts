import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { growingClient, readItem } from '../support/hot-keys.ts';
import { leftOfFour } from '../support/own-cooling.ts';
import { requestWith } from '../support/pipeline.ts';

/**
 * Attack25: instance A's own cooling lands (8 → 4) and its re-reads are throttled, so A keeps
 * only `#left` = 4; then B grows the key back (to 8, or 16) through throttled spends and fills
 * some. A and B then hammer: never more allowed than the quota, no fault, no denial with room.
 */
describe('attack25: #left of 4, key regrown by another instance', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a25-left-regrown');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const mode of [8, 16] as const)
    it(`A's #left of 4, then B grows to ${mode}: exact`, async () => {
      const bState = { pk: '', throttles: 0 };
      const left = await leftOfFour(table, { b: growingClient(bState) });
      const { b, key, pk, cooling } = left;
      bState.pk = pk;
      const get = (p: string) => readItem(table, p);
      let allowed = left.allowed;
      const log: unknown[] = [left.cooled];
      for (let round = 0; round < 12 && (((await get(pk)) as StoredSession).shards ?? 0) < mode; round++) {
        bState.throttles = 2;
        await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
        for (let i = 0; i < 2; i++) await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
      }
      bState.throttles = 0;
      for (let i = 0; i < 4; i++) await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
      const { tally, summary, ...hammered } = await left.hammerBoth(allowed, { mode, log });
      expect(cooling.landedAt > 0, summary).toBe(true);
      expect(hammered.allowed, summary).toBeLessThanOrEqual(80);
      expect(tally.error, summary).toBe(0);
      // Once B has grown the key to 16, a request may meet 3 counter items without room while leases sit in others: the
      // documented under-grant (denied, then repeated for half a second), seen once under a loaded CI run with 26
      // leases unspent among 16 items. What must not happen is a denial that lasts: the quota is served to the end.
      if (mode === 16) expect(hammered.allowed, summary).toBeGreaterThanOrEqual(70);
      else expect(tally.denyWhileRoom, summary).toBe(0);
    }, 60_000);
});
