import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { readItem, spentOn, spreadAndSpend, spreadingClient } from '../support/hot-keys.ts';
import { readsSessionWithin, watchOwnCooling } from '../support/own-cooling.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

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
      const ms = 300;
      const state = { pk: '', throttles: 2 };
      const client = spreadingClient(state);
      let nowMs = 0;
      const cooling = watchOwnCooling(client, (attempt, cooled) => readsSessionWithin(attempt, cooled, state.pk, ms));
      const clock = () => Date.now() + nowMs;
      const a = pipelineOn(client, table.tableName, { clock });
      const b = pipelineOn(lambdaClient(), table.tableName, { clock });
      const { key, keyId, pk } = await spreadAndSpend(table, a, state, 4);
      const get = (p: string) => readItem(table, p);
      let allowed = await spentOn(table, pk);
      nowMs += COOL_MS + 1000;
      // A's request meets counter items without room and cools; its re-reads throttled.
      await a.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
      await new Promise((r) => setTimeout(r, ms + 50));
      cooling.armed = false;
      const afterA = (await get(pk)) as StoredSession;
      const log: unknown[] = [{ landed: cooling.landedAt > 0, afterA: afterA.shards, used: afterA.quotaUsed }];
      if (mode === 'reset') {
        await b.keys.resetQuota(keyId);
        allowed = 0;
      } else {
        const target = mode === 'cooled-again' ? 2 : 0;
        for (let round = 0; round < 6 && (((await get(pk)) as StoredSession).shards ?? 0) > target; round++) {
          // B fills some, then past the cooling time its requests cool.
          for (let i = 0; i < 3; i++) await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
          nowMs += COOL_MS + 1000;
          for (let i = 0; i < 3; i++) await b.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
          if (mode === 'cooled-again' && (((await get(pk)) as StoredSession).shards ?? 0) <= target) break;
        }
      }
      const mid = (await get(pk)) as StoredSession;
      log.push({ mid: mid.shards, used: mid.quotaUsed, allowedBefore: allowed });
      const tally = { allow: 0, deny: 0, error: 0, denyWhileRoom: 0, errors: [] as string[] };
      const until = Date.now() + 1500;
      const worker = async (p: typeof a) => {
        while (Date.now() < until && allowed < 80) {
          const r = await p.pipeline.authorize(requestWith(key)).catch((e: unknown) => {
            tally.errors.push(String(e).slice(0, 120));
            return undefined;
          });
          if (r === undefined) tally.error++;
          else if (r.allow) {
            tally.allow++;
            allowed++;
          } else {
            tally.deny++;
            if (allowed < 70) tally.denyWhileRoom++;
          }
        }
        // a few more past the quota
        for (let i = 0; i < 5; i++) {
          const r = await p.pipeline.authorize(requestWith(key)).catch(() => undefined);
          if (r === undefined) tally.error++;
          else if (r.allow) {
            tally.allow++;
            allowed++;
          }
        }
      };
      const t0 = Date.now();
      await Promise.all([worker(a), worker(a), worker(b), worker(b)]);
      const s = (await get(pk)) as StoredSession;
      const summary = JSON.stringify({ mode, log, allowed, tally, took: Date.now() - t0, shards: s.shards, quotaUsed: s.quotaUsed });
      expect(cooling.landedAt > 0, summary).toBe(true);
      expect(allowed, summary).toBeLessThanOrEqual(80);
      expect(tally.error, summary).toBe(0);
      expect(tally.denyWhileRoom, summary).toBe(0);
    }, 60_000);
});
