import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spendToLeases, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * Attack29 (stale decision in the longer last counts): a spread key (quota 1,000, 4 counter items spent to their leases: every count needs a fill)
 * whose fills (every transaction; spends fail on the spent leases) are throttled (table) for 1.6 s from a request's start — past the
 * budget's end, so the request's last counts (started 1.5 s in, each with its own 250 ms) meet the spell's end. An
 * admin (another client) changes the key `at` ms in: makes it inactive, lowers its quota to 1 (below its count), or
 * moves its expiry into the past. Expected: an Allow only when its counting write was sent before the change had
 * landed; else a denial (or a 500).
 * Held (two runs, 3 modes × change at 1520/1580/1700 ms × 2 requests): every change landed before the fill that
 * would have counted was denied on the current item (key_inactive, quota_exceeded, session_expired, 1.56–1.74 s);
 * changes at 1700 ms came after the Allow's fill (sent 1.61–1.65 s, answered by 1.66 s). No stale Allow: fills and
 * spends are conditioned on the version, and a failed fill is decided again on the item it returned.
 */
const SPELL = Number(process.env.ATK29_SPELL ?? 1600);
const MODES: Record<string, Record<string, unknown>> = {
  inactive: { isInactive: true },
  lowered: { quotaMax: 1 },
  expired: { expires: 1 },
};

describe('attack29: the key changed during the last counts', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a29-change-last');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('no Allow whose counting write was sent after the change landed', async () => {
    const rows: string[] = [];
    let stale = 0;
    for (const [mode, change] of Object.entries(MODES))
      for (const at of [1520, 1580, 1700])
        for (let t = 0; t < 2; t++) {
          let armedAt = 0;
          let pk = '';
          let countedAt = 0;
          const client = lambdaClient();
          client.middlewareStack.add(
            (next, context) => async (args) => {
              const command = String(context.commandName);
              const counting = command === 'TransactWriteItemsCommand';
              if (armedAt > 0 && counting) {
                const sent = performance.now() - armedAt;
                if (sent < SPELL) throw throttle('table');
                const out = await next(args);
                // Below the deserializer: the raw answer (a cancelled transaction is a 400 here).
                if ((out as { response?: { statusCode?: number } }).response?.statusCode === 200) countedAt = Math.max(countedAt, sent);
                return out;
              }
              return next(args);
            },
            { step: 'deserialize', priority: 'low', name: 'attack29' },
          );
          const A = pipelineOn(client, table.tableName);
          const admin = pipelineOn(lambdaClient(), table.tableName);
          const { key, keyId } = await A.keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
          pk = `key#${keyId}`;
          await spreadKey(table.doc, table.tableName, pk, 4);
          for (let i = 0; i < 6; i++) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
          // Counter items spent to their leases: every count needs a fill (throttled, paused between), so the last count
          // runs until the spell ends.
          await spendToLeases(table, pk, 4);
          armedAt = performance.now();
          let changedAt = Number.POSITIVE_INFINITY;
          const changing = (async () => {
            await new Promise((resolve) => setTimeout(resolve, at));
            await admin.keys.update(keyId, change);
            changedAt = performance.now() - armedAt;
          })();
          const answer = await A.pipeline.authorize(requestWith(key)).then(
            (d) => (d.allow ? 'allow' : d.reason),
            (e: Error) => `500 ${e.message}`,
          );
          const ms = Math.round(performance.now() - armedAt);
          await changing;
          armedAt = 0;
          const bad = answer === 'allow' && countedAt > changedAt;
          if (bad) stale++;
          rows.push(
            `${mode}@${at}: ${answer}@${ms} counted=${Math.round(countedAt)} changed=${Math.round(changedAt)}${bad ? ' STALE' : ''}`,
          );
        }
    expect(stale, JSON.stringify({ stale, rows })).toBe(Number(process.env.ATK29_EXPECT ?? 0));
  }, 120_000);
});
