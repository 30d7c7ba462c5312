import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount, reasonsOf } from '../support/hot-account.ts';
import { readItem, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

vi.mock('../../lambdas/core/request/busy-budget.ts', async (original) => (await import('./budget-stand-ins.ts')).budgetUnderTest(original));

/**
 * Attack27 (more allowed than the quota, with the longer last count): three instances (their own
 * clients) hammer a spread key while its counting — spends and every transaction (fills, coolings) — is
 * throttled in spells of 1.55 s with 0.2 s gaps (so requests' last counts, 1.5–1.75 s in, meet the
 * spells' ends), `kind` table (busy) or item (spends throttled: growth); with `cool`, the clock jumps
 * past the cooling time every 300 ms (coolings during last counts); with `lower`, an admin lowers the
 * quota mid-run, or deletes the key and makes it again with the same raw key (`recreate`).
 * Expected: never more allowed than the quota (after a lowering: than the lowered quota or what was
 * answered before it); every Allow counted.
 * Held (2 runs): table spells 34, 55 allowed of 80 (counted = allowed, 35–38 failed closed); item
 * spells 53, 68 of 80 (growth to 64; counted = allowed); with coolings 66, 80 of 80 (exact); lowered
 * 400 → 60: 7, 8 allowed (the 150–300 leased before the lowering count as used: documented loss);
 * re-created: 60 of 60 in the new life (65, 64 in all, 5 and 4 answered in the old life). No strays.
 */
describe("attack27: quota exact under throttle spells ending around the budget's end", () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a27-spells-overgrant');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const [name, quota, kind, cool, change] of [
    ['table spells', 80, 'table', false, undefined],
    ['item spells (growth)', 80, 'item', false, undefined],
    ['table spells + coolings', 80, 'table', true, undefined],
    ['table spells, quota lowered 400 → 60', 400, 'table', false, 'lower'],
    ['table spells, key deleted and re-created', 60, 'table', false, 'recreate'],
  ] as const)
    it(name, async () => {
      let offset = 0;
      const clock = () => Date.now() + offset;
      let t0 = 0;
      let pk = '';
      const on = () => t0 > 0 && (performance.now() - t0) % 1750 < 1550;
      const mk = () => {
        const c = lambdaClient();
        c.middlewareStack.add(
          (next, context) => async (args) => {
            const command = String(context.commandName);
            const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
            if (on() && pk !== '') {
              const spend = command === 'UpdateItemCommand' && p.startsWith(`${pk}#c`);
              if (spend) throw throttle(kind);
              if (command === 'TransactWriteItemsCommand') throw throttle('table');
            }
            return next(args);
          },
          { step: 'deserialize', priority: 'low', name: 'attack27' },
        );
        return c;
      };
      const instances = [0, 1, 2].map(() => pipelineOn(mk(), table.tableName, { clock }));
      const admin = instances[0]!;
      const created = await admin.keys.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
      const { key } = created;
      let keyId = created.keyId;
      pk = `key#${keyId}`;
      await spreadKey(table.doc, table.tableName, pk, 8);
      const answers: { d: Decision | Error; at: number }[] = [];
      let changedAt = 0;
      let startedChangeAt = 0;
      t0 = performance.now();
      const runMs = 7000;
      const ticker = cool ? setInterval(() => (offset += COOL_MS + 1000), 300) : undefined;
      const changer = (async () => {
        if (change === undefined) return;
        await new Promise((resolve) => setTimeout(resolve, 1600));
        startedChangeAt = performance.now();
        if (change === 'lower') await admin.keys.update(keyId, { quotaMax: 60 });
        else {
          await admin.keys.delete(keyId);
          const again = await admin.keys.create({ key, quotaMax: quota, quotaRenewalRate: 86_400 } as never);
          keyId = again.keyId;
        }
        changedAt = performance.now();
      })().catch((e: Error) => e);
      await Promise.all(
        instances.flatMap((p) =>
          Array.from({ length: 4 }, async () => {
            while (performance.now() - t0 < runMs) {
              const d = await p.pipeline.authorize(requestWith(key)).catch((e: Error) => e);
              answers.push({ d, at: performance.now() });
            }
          }),
        ),
      );
      const changeError = await changer;
      if (ticker) clearInterval(ticker);
      t0 = 0;
      const all = answers.map((a) => a.d);
      const allowed = allowsOf(all);
      const pkNow = `key#${keyId}`;
      const session = (await readItem(table, pkNow))!;
      const account = await hotAccount(table.doc, table.tableName, pkNow);
      const beforeChange = allowsOf(answers.filter((a) => startedChangeAt > 0 && a.at < startedChangeAt).map((a) => a.d));
      const afterChange = allowsOf(answers.filter((a) => changedAt > 0 && a.at > changedAt).map((a) => a.d));
      const summary = JSON.stringify({
        name,
        old: process.env.ATK27_OLD === '1',
        changeError: changeError instanceof Error ? changeError.message : undefined,
        keyIdSame: pkNow === pk,
        allowed,
        beforeChange,
        afterChange,
        reasons: reasonsOf(all),
        quotaMax: session.quotaMax,
        used: account.used,
        unspent: account.unspent,
        counted: account.used - account.unspent,
        shards: session.shards,
        strays: account.strays,
      });
      if (change === 'lower') expect(allowed, summary).toBeLessThanOrEqual(Math.max(60, beforeChange + 12));
      else if (change === 'recreate') {
        // Each life within its quota: the new life's allows are what it counted; the rest were answered on the old life
        // before its delete landed (the change's transactions are throttled by the same spells: it may take seconds).
        const counted = account.used - account.unspent;
        expect(counted, summary).toBeLessThanOrEqual(quota);
        expect(allowed - counted, summary).toBeLessThanOrEqual(quota);
        expect(afterChange, summary).toBeLessThanOrEqual(quota);
      } else {
        expect(allowed, summary).toBeLessThanOrEqual(quota);
        expect(account.used - account.unspent, summary).toBe(allowed);
      }
      expect(account.strays, summary).toEqual([]);
    }, 60_000);
});
