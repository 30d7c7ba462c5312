import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { readItem, spentOn, spreadAndSpend, spreadingClient, unlease } from '../support/hot-keys.ts';
import { readsSessionWithin, watchOwnCooling } from '../support/own-cooling.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack23 (the same first version failed it 2 of 3 runs; held since): instance A holds the cooled hint (its session reads throttled from its cooling on,
 * for `ms`), instance B does not; both hammer the key until the quota is used up. Never more
 * allowed than the quota; denials counted against the room left at the end.
 *
 * Setup: quota 80 spread over 8 (leases of 10), #c0–#c3 spent, `unleased` of #c7's lease never
 * leased (room on the session item); clock past the cooling time.
 */
describe('attack23: the cooled hint, two instances', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a23-hint-two');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const [ms, unleased] of [[400, 4]] as const)
    it(`allows exactly up to the quota (A's reads throttled ${ms} ms, ${unleased} unleased)`, async () => {
      const state = { pk: '', throttles: 2 };
      const client = spreadingClient(state);
      let nowMs = 0; // the clock runs, moved on by this much
      const cooling = watchOwnCooling(client, (attempt, cooled) => readsSessionWithin(attempt, cooled, state.pk, ms));
      const clock = () => Date.now() + nowMs;
      const a = pipelineOn(client, table.tableName, { clock });
      const b = pipelineOn(lambdaClient(), table.tableName, { clock });
      const { key, pk } = await spreadAndSpend(table, a, state, 4);
      const spentBefore = await spentOn(table, pk);
      await unlease(table, pk, unleased);
      // Requests counted before: those spent on the counter items (the first one among them).
      let allowed = spentBefore;
      nowMs += COOL_MS + 1000;
      // A cools first (its request), then both hammer.
      await a.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
      const tally = { allow: 0, deny: 0, error: 0, denyWhileRoomA: 0, denyWhileRoomB: 0 };
      const until = Date.now() + Math.max(ms, 1500);
      const worker = async (p: typeof a, name: 'A' | 'B') => {
        while (Date.now() < until) {
          const r = await p.pipeline.authorize(requestWith(key)).catch(() => undefined);
          if (r === undefined) tally.error++;
          else if (r.allow) {
            tally.allow++;
            allowed++;
          } else {
            tally.deny++;
            if (allowed < 70) tally[`denyWhileRoom${name}`]++;
          }
        }
      };
      await Promise.all([worker(a, 'A'), worker(a, 'A'), worker(b, 'B'), worker(b, 'B')]);
      const s = (await readItem(table, pk)) as StoredSession;
      const items: unknown[] = [];
      for (let i = 0; i < (s.shards ?? 0); i++) {
        const c = await readItem(table, `${pk}#c${i}`);
        items.push(c === undefined ? null : [c.quotaLease, c.quotaSpent]);
      }
      const summary = JSON.stringify({
        ms,
        unleased,
        items,
        landed: cooling.landedAt > 0,
        spentBefore,
        allowed,
        tally,
        shards: s.shards,
        quotaUsed: s.quotaUsed,
      });
      expect(cooling.landedAt > 0, summary).toBe(true);
      expect(allowed, summary).toBeLessThanOrEqual(80);
      expect(tally.denyWhileRoomA + tally.denyWhileRoomB, summary).toBe(0);
      expect(tally.error, summary).toBe(0);
    }, 40_000);
});
