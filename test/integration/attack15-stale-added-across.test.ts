import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterItemPk } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack: instance A spreads a hot key (8 counter items, remembered as "added": known not to
 * exist) but its fills are throttled, so it keeps them "added". Instance B then fills those
 * counter items and leases out the whole quota (80) to them. A's memory is now stale: a
 * counter item it picks is "added", so it skips the spend and plans a fill on the session
 * item, which has no room — and denies, though the counter items hold unspent leases. It never
 * fills (no room), so its "added" never clears: every request of A on this key is denied
 * without a look at a counter item, until the quota renews.
 * Observed: A's first request (fills throttled) fails after ~3.4 s (ContentionError); B then
 * allowed 77 and leased out all 80; with its counter items' spends cleared (as just after its
 * fills; 12-22 left on them, 3 runs), A denied 3 of 3 (`quota_exceeded`, 600 ms apart) sending 0 spends,
 * while a fresh instance C was allowed at once.
 */
describe('counter items one instance added and another filled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a15-stale-added');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('do not make the first instance deny while they have room', async () => {
    const clientA = lambdaClient();
    let sessionPk = '';
    let sessionThrottles = 0;
    let transactThrottles = 0;
    /** Counting writes A sent to counter items (spends). */
    let spendsA = 0;
    throttleAttempts(clientA, (command, pk) => {
      if (command === 'UpdateItemCommand' && pk.startsWith(`${sessionPk}#c`)) spendsA++;
      if (command === 'UpdateItemCommand' && pk === sessionPk && sessionThrottles > 0) {
        sessionThrottles -= 1;
        return 'item';
      }
      if (command === 'TransactWriteItemsCommand' && transactThrottles > 0) {
        transactThrottles -= 1;
        return 'item';
      }
      return undefined;
    });
    const a = pipelineOn(clientA, table.tableName);
    const b = pipelineOn(lambdaClient(), table.tableName);
    const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    sessionThrottles = 2;
    transactThrottles = Number.POSITIVE_INFINITY;
    const started = Date.now();
    const first = await a.pipeline.authorize(requestWith(key)).catch((error: Error) => error.name);
    const firstMs = Date.now() - started;
    transactThrottles = 0;
    expect((await a.store.get(sessionPk))?.shards).toBe(8);

    let allowedB = 0;
    for (let i = 0; i < 80 && (await b.store.get(sessionPk))?.quotaUsed !== 80; i++)
      if ((await b.pipeline.authorize(requestWith(key))).allow) allowedB++;
    const leasedOut = (await b.store.get(sessionPk))?.quotaUsed;
    // As just after B's fills, before its spends: every lease unspent (deterministic room on each item).
    for (let i = 0; i < 8; i++) {
      const pk = counterItemPk(sessionPk, i);
      const { Item } = await b.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk } }));
      for (const name of Object.keys(Item ?? {}).filter((n) => /^quotaSpent/.test(n)))
        await b.doc.send(
          new UpdateCommand({
            TableName: table.tableName,
            Key: { pk },
            UpdateExpression: 'SET #s = :z',
            ExpressionAttributeNames: { '#s': name },
            ExpressionAttributeValues: { ':z': 0 },
          }),
        );
    }

    const remaining = (await a.keys.get(keyId)).quotaRemaining;
    spendsA = 0;
    let allowedA = 0;
    const reasons: string[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = await a.pipeline.authorize(requestWith(key));
      if (decision.allow) allowedA++;
      else reasons.push(String((decision as { reason?: string }).reason));
      await new Promise((resolve) => setTimeout(resolve, 600)); // past the repeated-denial memory
    }
    // A fresh instance on the same key finds the room left.
    const c = pipelineOn(lambdaClient(), table.tableName);
    let allowedC = 0;
    for (let i = 0; i < 8 && allowedC === 0; i++) {
      if ((await c.pipeline.authorize(requestWith(key))).allow) allowedC++;
      else await new Promise((resolve) => setTimeout(resolve, 600));
    }
    console.log({ first, firstMs, allowedB, leasedOut, remaining, spendsA, allowedA, reasons, allowedC });
    expect({ leasedOut, roomLeft: remaining >= 3, allowedC }).toEqual({ leasedOut: 80, roomLeft: true, allowedC: 1 });
    expect(allowedA).toBe(3);
    // A should look at its counter items (which B filled) before denying: it never does.
    expect(spendsA).toBeGreaterThan(0);
  });
});
