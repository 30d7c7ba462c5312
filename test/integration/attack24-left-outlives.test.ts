import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { readItem } from '../support/hot-keys.ts';
import { leftOfFour } from '../support/own-cooling.ts';
import { requestWith } from '../support/pipeline.ts';

/**
 * Attack24: instance A's own cooling lands (8 → 4) and its re-reads are throttled, so A keeps
 * only `#left` = 4 and nothing else of the key; A then makes no request while the key moves on:
 * a quota reset (every counter item deleted), or B cooling it again (4 → 2), or B cooling it all
 * the way back to its session item. Then A and B hammer. Never more allowed than the quota
 * (after a reset: from the reset on); no fault; no denial while room is left.
 * Held (2 runs, 3 modes each): exactly 80 allowed, 0 errors, 0 denials with room.
 */
describe('attack24: #left outliving what the key became', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a24-left-outlives');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const mode of ['reset', 'cooled-again', 'cooled-to-session'] as const)
    it(`A's #left of 4, then ${mode}: exact`, async () => {
      const left = await leftOfFour(table);
      const { b, key, keyId, pk, cooling } = left;
      const get = (p: string) => readItem(table, p);
      let allowed = left.allowed;
      const log: unknown[] = [left.cooled];
      if (mode === 'reset') {
        await b.keys.resetQuota(keyId);
        allowed = 0;
      } else {
        const target = mode === 'cooled-again' ? 2 : 0;
        for (let round = 0; round < 6 && (((await get(pk)) as StoredSession).shards ?? 0) > target; round++) {
          // B fills some, then past the cooling time its requests cool.
          for (let i = 0; i < 3; i++) await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
          left.passCoolingTime();
          for (let i = 0; i < 3; i++) await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
          if (mode === 'cooled-again' && (((await get(pk)) as StoredSession).shards ?? 0) <= target) break;
        }
      }
      const { tally, summary, ...hammered } = await left.hammerBoth(allowed, { mode, log });
      expect(cooling.landedAt > 0, summary).toBe(true);
      expect(hammered.allowed, summary).toBeLessThanOrEqual(80);
      expect(tally.error, summary).toBe(0);
      expect(tally.denyWhileRoom, summary).toBe(0);
    }, 60_000);
});
