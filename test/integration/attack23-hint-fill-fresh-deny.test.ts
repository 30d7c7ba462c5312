import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { hotAccount } from '../support/hot-account.ts';
import { spreadAndSpend, spreadingClient, unlease } from '../support/hot-keys.ts';
import { readsSessionWithin, watchOwnCooling } from '../support/own-cooling.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack23 (found against a first version that kept the item read before a cooling as a hint
 * when its re-read was throttled; fixed: only the number of counter items left is kept, and
 * 12 of 12 are allowed here): a fill planned on the cooled hint lands (its condition checks the real room), and
 * `afterFill` then remembers the hint's counts — from before the cooling, still counting the
 * leases it gave back — plus the fill, as a fresh item. Within half a second, a count that
 * finds the new leases spent denies on it ("no room" on a fresh view), while the quota has
 * most of the given-back room.
 *
 * Setup: quota 80 spread over 8 (leases of 10); #c0–#c3 spent to their lease; 4 of #c7's lease
 * taken back (session quotaUsed 76: room 4 left unleased). Clock past the cooling time; from the
 * moment the cooling lands every session GetItem of this instance is throttled (writes not).
 */
describe('attack23: a fill on the cooled hint, then a denial on its counts', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a23-hint-fill');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const onlyFirst of [false, true])
    it(`denies no request while the quota has room (session reads throttled ${onlyFirst ? 'during the cooling request only' : 'throughout'})`, async () => {
      const state = { pk: '', throttles: 2 };
      const client = spreadingClient(state);
      let nowMs = 0; // the clock runs, moved on by this much
      let throttling = false;
      const log: string[] = [];
      const cooling = watchOwnCooling(client, (attempt, cooled) => {
        if (!throttling) return false;
        const throttled = readsSessionWithin(attempt, cooled, state.pk);
        log.push(throttled ? 'get throttled' : `${attempt.command} ${attempt.pk.replace(state.pk, '')}`);
        return throttled;
      });
      cooling.armed = false;
      const a = pipelineOn(client, table.tableName, { clock: () => Date.now() + nowMs });
      const { key, pk } = await spreadAndSpend(table, a, state, 4);
      // 4 of #c7's lease were never leased: the session item has room 4 left to lease.
      await unlease(table, pk, 4);
      /** Requests counted: the session item's count less the leases not spent on its counter items. */
      const realUsed = async () => {
        const account = await hotAccount(table.doc, table.tableName, pk);
        return { used: account.used - account.unspent, shards: account.shards, quotaUsed: account.used };
      };
      const before = await realUsed();
      nowMs += COOL_MS + 1000;
      throttling = true;
      cooling.armed = true;
      const answers: string[] = [];
      const denialsWithRoom: unknown[] = [];
      for (let i = 0; i < 12; i++) {
        if (i === 1 && onlyFirst) throttling = false;
        const r = await a.pipeline.authorize(requestWith(key)).catch((error: Error) => error);
        const tag = r instanceof Error ? `error:${r.message}` : r.allow ? 'allow' : `deny:${(r as { reason?: string }).reason}`;
        answers.push(tag);
        if (tag.startsWith('deny')) {
          const real = await realUsed();
          if (real.used < 80) denialsWithRoom.push({ i, ...real });
        }
      }
      throttling = false;
      const landed = cooling.landedAt > 0;
      const summary = JSON.stringify({
        onlyFirst,
        before,
        landed,
        answers,
        denialsWithRoom,
        after: await realUsed(),
        log: log.slice(0, 40),
      });
      expect(landed, summary).toBe(true);
      expect(denialsWithRoom, summary).toEqual([]);
      expect(
        answers.filter((t) => t.startsWith('error')),
        summary,
      ).toEqual([]);
    }, 30_000);
});
