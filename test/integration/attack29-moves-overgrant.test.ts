import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { readItem, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack29 (over-grant with the decisions past the budget): three instances (own clients) hammer a spread key
 * (quota 150, 4 counter items) for 6 s while their counting writes (spends, every transaction) are throttled (`kind`)
 * in spells of 1.6 s with 0.6 s gaps, and an admin (another client) changes the key's metadata every 200 ms (the
 * leases move to each new version: decisions past the budget's end, each with its own 250 ms, decided again and
 * again). Expected: never more allowed than the quota; every Allow counted on a counter item or the session item.
 * Held (3 runs, quota 150 (one at 60)): table spells 118, 150, 60 allowed (quotaUsed 141, 150, 60), item spells
 * (growth to 64) 52, 118, 60 (quotaUsed 108, 138, 60); 14–26 requests failed closed per run, 6–17 moves. Never
 * more than the quota, never more than the session item counts.
 */
const QUOTA = 150;

describe('attack29: version moves and busy spells across instances', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a29-moves-overgrant');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const kind of ['table', 'item'] as const)
    it(`${kind} spells: no more allowed than the quota`, async () => {
      const t0 = performance.now();
      const spell = () => (performance.now() - t0) % 2200 < 1600;
      let on = false;
      const instances = Array.from({ length: 3 }, () => {
        const client = lambdaClient();
        throttleAttempts(client, (command, pk) =>
          on && spell() && (command === 'TransactWriteItemsCommand' || (command === 'UpdateItemCommand' && pk.includes('#c')))
            ? kind
            : undefined,
        );
        return pipelineOn(client, table.tableName);
      });
      const admin = pipelineOn(lambdaClient(), table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: QUOTA, quotaRenewalRate: 86_400 });
      const pk = `key#${keyId}`;
      await spreadKey(table.doc, table.tableName, pk, 4);
      on = true;
      const end = performance.now() + 6000;
      let allowed = 0;
      let denied = 0;
      let errors = 0;
      let moves = 0;
      const mover = (async () => {
        while (performance.now() < end) {
          await admin.keys.update(keyId, { metaData: { n: String(moves++) } }).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      await Promise.all(
        instances.flatMap(({ pipeline }) =>
          Array.from({ length: 4 }, async () => {
            while (performance.now() < end) {
              const d = await pipeline.authorize(requestWith(key)).catch(() => undefined);
              if (d === undefined) errors++;
              else if (d.allow) allowed++;
              else denied++;
            }
          }),
        ),
      );
      await mover;
      on = false;
      const session = (await readItem(table, pk)) as { quotaUsed?: number; shards?: number };
      let spent = 0;
      for (let i = 0; i < (session.shards ?? 0); i++) spent += ((await readItem(table, `${pk}#c${i}`))?.quotaSpent as number) ?? 0;
      const summary = JSON.stringify({ kind, allowed, denied, errors, moves, quotaUsed: session.quotaUsed, shards: session.shards, spent });
      expect(allowed, summary).toBeLessThanOrEqual(Number(process.env.ATK29_BOUND ?? QUOTA));
      // Every Allow is inside the session item's count (spent on a lease it handed out, or counted on it).
      expect(allowed, summary).toBeLessThanOrEqual(session.quotaUsed ?? 0);
    }, 60_000);
});
