import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { allowsOf, reasonsOf } from '../support/hot-account.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { loseNextTransactionAnswer } from '../support/lossy-client.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle, throttleAttempts } from '../support/throttles.ts';

/**
 * Attack (held): lost answers on a hot key that the SDK cannot resolve by re-sending.
 *
 * 1. Every fill lands and its answer is lost, and the SDK's re-send is throttled: the request
 *    takes the fill for not landed ('busy') and counts again, while the lease it took — and
 *    its own spend on the first item filled — did land.
 * 2. A growth (`shards` 8 → 16) lands and its answer is lost; the re-send finds `shards`
 *    already 16 and answers with the item: the instance never learns it added #c8-#c15.
 *
 * Checked: Allows never exceed the quota, the session item's count never exceeds it, and the
 * account (the session item's count = Allows + unspent leases + requests spent and not
 * allowed) loses at most one request per lost answer. Observed (5 runs): (1) 40 of 40 allowed
 * out of 60 requests, 1 fill landed with its answer lost, spent = allowed = 40; (2) the growth
 * lost once, `shards` 16, spent = allowed, 63-75 of 80 allowed out of 100 sequential requests
 * (the same without the lost answer: 70) — the rest leased and unspent on counter items not
 * drawn while #c8-#c15, never filled, count as missing items without room, and the denial
 * then repeated from memory for the rest of the loop (documented: at most the untried leases).
 */
describe('attack20: fills and growths whose answers are lost', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a20-lost-fill-growth');
  });
  afterAll(async () => {
    await table.drop();
  });

  async function account(a: ReturnType<typeof pipelineOn>, pk: string) {
    const session = (await a.store.get(pk)) as StoredSession;
    const counted = await a.store.counted(session);
    return { leased: session.quotaUsed ?? 0, spent: counted.quotaUsed ?? 0, shards: session.shards ?? 0 };
  }

  it('a fill that landed while its re-send was throttled grants nothing twice', async () => {
    const client = lambdaClient();
    const lost = loseNextTransactionAnswer(client, () => throttle('item'));
    const a = pipelineOn(client, table.tableName);
    const { key, keyId } = await a.keys.create({ quotaMax: 40, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    let landings = 0;
    const answers: (Decision | Error)[] = [];
    for (let i = 0; i < 60; i++) {
      lost.arm();
      answers.push(await a.pipeline.authorize(requestWith(key)).catch((error: Error) => error));
      landings += lost.landings;
    }
    const [allowed, reasons] = [allowsOf(answers), reasonsOf(answers)];
    const after = await account(a, pk);
    const summary = JSON.stringify({ allowed, landings, reasons, after });
    console.log(summary);
    expect(landings, summary).toBeGreaterThan(0);
    expect(allowed, summary).toBeLessThanOrEqual(40);
    expect(after.leased, summary).toBeLessThanOrEqual(40);
    // Requests spent and not allowed: at most one per fill that landed with its answer lost.
    expect(after.spent - allowed, summary).toBeGreaterThanOrEqual(0);
    expect(after.spent - allowed, summary).toBeLessThanOrEqual(landings);
  }, 15_000);

  it('a growth that landed with its answer lost grants nothing twice', async () => {
    let pk = '';
    let throttles = 0;
    let lostGrowths = 0;
    const client = lambdaClient();
    throttleAttempts(client, (command, p) => {
      if (command !== 'UpdateItemCommand' || !p.startsWith(`${pk}#c`) || throttles === 0) return undefined;
      throttles--;
      return 'item';
    });
    client.middlewareStack.add(
      (next) => async (args) => {
        const input = (args as { input?: { Key?: { pk?: { S?: string } }; ExpressionAttributeNames?: Record<string, string> } }).input;
        const out = await next(args);
        const raise =
          input?.Key?.pk?.S === pk && Object.values(input?.ExpressionAttributeNames ?? {}).includes('shards') && lostGrowths === 0;
        if (raise) {
          lostGrowths++;
          throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
        }
        return out;
      },
      { step: 'deserialize', priority: 'low', name: 'loseGrowthAnswer' },
    );
    const a = pipelineOn(client, table.tableName);
    const created = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    pk = `key#${created.keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    const answers: (Decision | Error)[] = [];
    for (let i = 0; i < 100; i++) {
      // The second request meets two throttled counter items: the key grows (and the answer is lost).
      if (i === 1) throttles = 2;
      answers.push(await a.pipeline.authorize(requestWith(created.key)).catch((error: Error) => error));
    }
    const [allowed, reasons] = [allowsOf(answers), reasonsOf(answers)];
    const after = await account(a, pk);
    const summary = JSON.stringify({ allowed, lostGrowths, reasons, after });
    console.log(summary);
    expect(lostGrowths, summary).toBe(1);
    expect(after.shards, summary).toBe(16);
    expect(allowed, summary).toBeLessThanOrEqual(80);
    expect(after.leased, summary).toBeLessThanOrEqual(80);
    expect(after.spent, summary).toBe(allowed);
  }, 15_000);
});
