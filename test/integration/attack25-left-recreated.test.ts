import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { leftOfFour } from '../support/own-cooling.ts';
import { forgetPastLives } from '../support/past-lives.ts';
import { requestWith } from '../support/pipeline.ts';

/**
 * Attack25: instance A's own cooling lands (8 → 4) and its re-reads are throttled, so A keeps
 * only `#left` = 4 (or, re-read answered, the session item); then B deletes the key and creates
 * it again with the same raw key (same partition key; past lives kept, or forgotten so the new
 * life starts at version 1 again). A and B then hammer: never more allowed than the new quota,
 * no fault, no denial with room.
 */
describe('attack25: #left of 4, key deleted and made again', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a25-left-recreated');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const mode of [
    'left',
    'left-forgotten-lives',
    'item',
    'item-forgotten-lives',
    'left-unspread',
    'left-forgotten-lives-unspread',
  ] as const)
    it(`A's ${mode}, then key deleted and made again: exact`, async () => {
      const left = await leftOfFour(table, { readsThrottled: mode.startsWith('left') });
      const { a, b, key, keyId, pk, cooling } = left;
      const log: unknown[] = [left.cooled];
      await b.keys.delete(keyId);
      if (mode.includes('forgotten-lives')) await forgetPastLives(table.doc, table.tableName, pk);
      const again = await b.keys.create({ key, quotaMax: 40, quotaRenewalRate: 86_400 });
      expect(again.keyId).toBe(keyId);
      let allowed = 40;
      left.spreading.throttles = mode.endsWith('unspread') ? 0 : 2;
      await a.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
      for (let i = 0; i < 3; i++) await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
      const { tally, summary, ...hammered } = await left.hammerBoth(allowed, { mode, log });
      expect(cooling.landedAt > 0, summary).toBe(true);
      expect(hammered.allowed, summary).toBeLessThanOrEqual(80);
      expect(tally.error, summary).toBe(0);
      expect(tally.denyWhileRoom, summary).toBe(0);
    }, 60_000);
});
