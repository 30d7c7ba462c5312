import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { spreadingClient } from '../support/hot-keys.ts';
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
      let armed = false;
      let landedAt = 0;
      let gets = 0;
      let txs = 0;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const command = String(context.commandName);
          const input = JSON.stringify((args as { input?: unknown }).input ?? {});
          const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
          if (armed && landedAt > 0 && Date.now() - landedAt < ms && command === 'GetItemCommand' && p === state.pk) {
            gets++;
            const { ProvisionedThroughputExceededException } = await import('@aws-sdk/client-dynamodb');
            throw new ProvisionedThroughputExceededException({ message: 'throttled (simulated)', $metadata: {} });
          }
          if (armed && command === 'TransactWriteItemsCommand') txs++;
          const out = await next(args);
          if (armed && landedAt === 0 && command === 'TransactWriteItemsCommand' && input.includes('"Delete"')) landedAt = Date.now();
          return out;
        },
        { step: 'deserialize', priority: 'low', name: 'attack23' },
      );
      const a = pipelineOn(client, table.tableName, { clock: () => Date.now() + nowMs });
      const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
      const pk = `key#${keyId}`;
      state.pk = pk;
      const get = async (p: string) =>
        (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: p }, ConsistentRead: true }))).Item;
      expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      const spread = (await get(pk)) as StoredSession;
      expect(spread.shards).toBe(8);
      expect(spread.quotaUsed).toBe(80);
      for (let i = 0; i < 4; i++)
        await table.doc.send(
          new UpdateCommand({ TableName: table.tableName, Key: { pk: `${pk}#c${i}` }, UpdateExpression: 'SET quotaSpent = quotaLease' }),
        );
      nowMs += COOL_MS + 1000;
      armed = true;
      const answers: string[] = [];
      const times: number[] = [];
      const started = Date.now();
      for (let i = 0; i < 6; i++) {
        const t0 = performance.now();
        const r = await a.pipeline.authorize(requestWith(key)).catch((error: Error) => error);
        times.push(Math.round(performance.now() - t0));
        answers.push(r instanceof Error ? `error:${r.message}` : r.allow ? 'allow' : `deny:${(r as { reason?: string }).reason}`);
      }
      armed = false;
      const s = (await get(pk)) as StoredSession;
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
      console.log(summary);
      expect(landedAt > 0, summary).toBe(true);
      expect(
        answers.filter((x) => x !== 'allow'),
        summary,
      ).toEqual([]);
      // Before: the 2 throttled re-reads of the cooling, every request answered in well under 200 ms.
      expect(gets, summary).toBeLessThanOrEqual(10);
    }, 40_000);
});
