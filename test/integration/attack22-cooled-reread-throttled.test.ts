import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spendToLeases, spreadKey } from '../support/hot-keys.ts';
import { watchOwnCooling } from '../support/own-cooling.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack22 (found, fixed): the cooling is the request's own, and the session item's reads (and
 * fills) are throttled from the moment it lands — the key is hot, so the re-read after the
 * cooling and the request's own read again are both throttled. The instance used to forget the
 * session item then, and count again on the 8 counter items the key had before, though the
 * cooling itself had left 4: every count again drew the deleted #c4–#c7 (a failed spend each)
 * until a read or a failed fill answered. Now a landed cooling whose re-read fails keeps the
 * number of counter items it left (`LeaseMemory.cooled`), and nothing of the item's counts.
 *
 * Setup: quota 1000, spread over 8, every counter item spent to its lease, clock past the
 * cooling time; A's request meets 3 without room and cools; then for 0.9 s every session
 * GetItem and every transaction of A is throttled.
 * Observed: every read throttled — 16 to 23 writes naming #c4–#c7 (5 runs) before the fix, 0
 * after (6 runs); with the first read after the cooling answered, 0 (25 before the busy retry
 * counted on what its count last saw).
 */
describe('attack22: a request’s own cooling, its re-reads throttled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a22-cooled-reread');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const spared of [0, 1])
    it(`counts again on the counter items the cooling left (${spared ? "cool()'s re-read answered" : 'every session read throttled'})`, async () => {
      let reads = 0;
      let nowMs = Date.now();
      const clock = () => nowMs;
      const a = lambdaClient();
      let armed = false;
      let namingDeleted = 0;
      const log: string[] = [];
      let pk = '';
      const cooling = watchOwnCooling(a, ({ command, pk: p, input }, cooled) => {
        if (!armed || cooled.landedAt === 0) return false;
        if (/#c[4-7]"/.test(input)) namingDeleted++;
        log.push(`${command} ${p.replace(pk, '')}`);
        const sparedRead = command === 'GetItemCommand' && p === pk && reads++ < spared;
        return !sparedRead && ((command === 'GetItemCommand' && p === pk) || command === 'TransactWriteItemsCommand');
      });
      cooling.armed = false;
      const { pipeline, keys, store } = pipelineOn(a, table.tableName, { clock });
      const { key, keyId } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
      pk = `key#${keyId}`;
      await spreadKey(table.doc, table.tableName, pk, 8);
      for (let i = 0; i < 16; i++) expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      // Every counter item spent to its lease: a count meets 3 without room, then cools.
      await spendToLeases(table, pk, 8);
      nowMs += COOL_MS + 1000;
      armed = true;
      cooling.armed = true;
      const answer = pipeline.authorize(requestWith(key)).catch((error: Error) => error);
      // Well inside what a decision's busy budget rides out (a spell ending in its last 0.2–0.5 s fails closed: ARCHITECTURE.md).
      await new Promise((resolve) => setTimeout(resolve, 900));
      armed = false;
      cooling.armed = false;
      const result = await answer;
      const landed = cooling.landedAt > 0;
      const summary = JSON.stringify({
        spared,
        landed,
        namingDeleted,
        result: result instanceof Error ? result.message : result.allow,
        shards: (await store.get(pk))?.shards,
        log: log.slice(0, 40),
        n: log.length,
      });
      expect(landed, summary).toBe(true);
      expect(result, summary).toMatchObject({ allow: true });
      expect(namingDeleted, summary).toBeLessThanOrEqual(6);
    }, 20_000);
});
