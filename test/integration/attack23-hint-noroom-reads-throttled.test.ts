import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { readItem, spreadAndSpend, spreadingClient } from '../support/hot-keys.ts';
import { readsSessionWithin, watchOwnCooling } from '../support/own-cooling.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack23 (found against the same first version, fixed likewise): the whole quota leased (session quotaUsed = quota), half the counter items spent,
 * the other half holding their leases. A cooling gives those back; its re-read is throttled, so
 * the instance keeps the item read before as a hint — whose count still says the quota is all
 * leased. Every fill planned on it is then "read" (no room on a hint), and while the session
 * item's reads stay throttled (its writes answer) each count comes back busy; before, the
 * forgotten item planned a fill whose failed condition returned the item as it is.
 *
 * Setup: quota 80 spread over 8 (leases of 10), #c0–#c3 spent; clock past the cooling time;
 * from the moment the cooling lands, this instance's session GetItems are throttled for
 * `ms` (transactions and counter items answer).
 */
describe('attack23: a cooled hint with no room, session reads throttled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a23-hint-noroom');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const ms of [600, 2500])
    it(`allows while the quota has room (reads throttled ${ms} ms after the cooling)`, async () => {
      const state = { pk: '', throttles: 2 };
      const client = spreadingClient(state);
      let nowMs = 0; // the clock runs, moved on by this much
      let watching = false;
      let gets = 0;
      let txs = 0;
      const cooling = watchOwnCooling(client, (attempt, cooled) => {
        if (!watching) return false;
        if (attempt.command === 'TransactWriteItemsCommand') txs++;
        const throttled = readsSessionWithin(attempt, cooled, state.pk, ms);
        if (throttled) gets++;
        return throttled;
      });
      cooling.armed = false;
      const a = pipelineOn(client, table.tableName, { clock: () => Date.now() + nowMs });
      const { key, pk } = await spreadAndSpend(table, a, state, 4);
      nowMs += COOL_MS + 1000;
      watching = true;
      cooling.armed = true;
      const answers: string[] = [];
      const times: number[] = [];
      const started = Date.now();
      for (let i = 0; i < 6; i++) {
        const t0 = performance.now();
        const r = await a.pipeline.authorize(requestWith(key)).catch((error: Error) => error);
        times.push(Math.round(performance.now() - t0));
        answers.push(r instanceof Error ? `error:${r.message}` : r.allow ? 'allow' : `deny:${(r as { reason?: string }).reason}`);
      }
      watching = false;
      const landedAt = cooling.landedAt;
      const s = (await readItem(table, pk)) as StoredSession;
      const summary = JSON.stringify({
        ms,
        landed: landedAt > 0,
        answers,
        times,
        gets,
        txs,
        total: Date.now() - started,
        shards: s.shards,
        quotaUsed: s.quotaUsed,
      });
      expect(landedAt > 0, summary).toBe(true);
      expect(
        answers.filter((x) => x !== 'allow'),
        summary,
      ).toEqual([]);
      // Before: the 2 throttled re-reads of the cooling, every request answered in well under 200 ms.
      expect(gets, summary).toBeLessThanOrEqual(10);
    }, 40_000);
});
