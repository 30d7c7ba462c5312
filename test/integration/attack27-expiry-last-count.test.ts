import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LAST_COUNT_MS } from '../../lambdas/core/request/busy-budget.ts';
import { answerOf, counting, throttleSpell } from '../support/busy-spells.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

vi.mock('../../lambdas/core/request/busy-budget.ts', async (original) => (await import('./budget-stand-ins.ts')).budgetUnderTest(original));

/**
 * Attack27 (stale decision in the last count): a spread key that expires at E (whole seconds). A
 * request starts `lead` ms before E; its counting (spends, transactions) is throttled for `ms` from its
 * start, so its last count (1.5 s in, decided on the clock at that moment: not expired) meets the
 * spell's end only after E and spends then. How long after E is the Allow answered?
 * Held (in-flight staleness, bounded by the last count's length): request 1505 ms before E, spell
 * 1490 ms: allowed 12–29 ms after E (two runs) (decided on the clock 1.5 s in, ~5 ms before E; spent just
 * after); before f464d93 the same requests failed closed (500) 5–12 ms after E. Spell 1620 ms (past
 * the budget): 500 at E−3…E+31 ms, old the same. Request 1220 ms before E, spell 1300 ms: denied
 * session_expired (decided again after E), old the same. The last count is ~10–50 ms in practice; the
 * Allow can trail an expiry (or any settings change that does not touch the counter items) by at most
 * that count: the spend is conditioned on the version, not on the time.
 */
describe('attack27: an Allow answered after the key expired', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a27-expiry');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const [lead, ms] of [
    [1520, 1620],
    [1505, 1490],
    [1220, 1300],
  ] as const)
    it(`request ${lead} ms before expiry, counting throttled ${ms} ms`, async () => {
      const rows: string[] = [];
      let late = 0;
      for (let t = 0; t < 3; t++) {
        const client = lambdaClient();
        const spell = throttleSpell(client, ms, (command, p, pk) => (counting(command, p, pk) ? 'table' : undefined));
        const A = pipelineOn(client, table.tableName);
        const expires = Math.floor(Date.now() / 1000) + 4;
        const { key, keyId } = await A.keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400, expires });
        spell.pk = `key#${keyId}`;
        await spreadKey(table.doc, table.tableName, spell.pk, 4);
        for (let i = 0; i < 4; i++) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
        await new Promise((resolve) => setTimeout(resolve, expires * 1000 - lead - Date.now()));
        spell.arm();
        const answer = await answerOf(A.pipeline, key, 'message');
        const afterExpiry = Date.now() - expires * 1000;
        spell.disarm();
        if (answer === 'allow' && afterExpiry > 0) late = Math.max(late, afterExpiry);
        rows.push(`${answer} ${afterExpiry} ms after expiry`);
      }
      const summary = JSON.stringify({ lead, ms, old: process.env.ATK27_OLD === '1', late, rows });
      expect(late, summary).toBeLessThan(LAST_COUNT_MS + 100);
    }, 60_000);
});
