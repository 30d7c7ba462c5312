import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack: "added" memory outliving a key's life. Instance A spreads an imported key (8
 * counter items, "added") but its fills are throttled, so they stay "added". The key is
 * deleted and imported again (same raw key, same partition key); its new life is spread by
 * instance B, whose first fill leases the whole quota (80) to the 8 counter items. A still
 * holds them "added" from the old life: it skips the spends and plans a fill on the session
 * item, which has no room — and denies, with 79 of the quota left.
 * Observed (3 runs): B allowed, 80 leased, 79 left; A denied 3 of 3 (`quota_exceeded`,
 * 600 ms apart) sending 0 spends.
 */
describe("a key imported again while an instance holds its old life's new counter items", () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a15-recreated-added');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('is counted on its counter items by that instance', async () => {
    const raw = `attack15-recreated-${Date.now()}-key-material`;
    const throttling = (client: ReturnType<typeof lambdaClient>) => {
      const state = { pk: '', session: 0, fills: false, spends: 0 };
      throttleAttempts(client, (command, pk) => {
        if (command === 'UpdateItemCommand' && pk.startsWith(`${state.pk}#c`)) state.spends++;
        if (command === 'UpdateItemCommand' && pk === state.pk && state.session > 0) {
          state.session -= 1;
          return 'item';
        }
        if (command === 'TransactWriteItemsCommand' && state.fills) return 'item';
        return undefined;
      });
      return state;
    };
    const clientA = lambdaClient();
    const clientB = lambdaClient();
    const ta = throttling(clientA);
    const tb = throttling(clientB);
    const a = pipelineOn(clientA, table.tableName);
    const b = pipelineOn(clientB, table.tableName);

    const { key, keyId } = await a.keys.create({ key: raw, quotaMax: 80, quotaRenewalRate: 86_400 });
    ta.pk = `key#${keyId}`;
    tb.pk = ta.pk;
    ta.session = 2;
    ta.fills = true;
    const first = await a.pipeline.authorize(requestWith(key)).catch((error: Error) => error.name);
    ta.fills = false;

    await a.keys.delete(keyId);
    await a.keys.create({ key: raw, quotaMax: 80, quotaRenewalRate: 86_400 });
    tb.session = 2;
    const byB = await b.pipeline.authorize(requestWith(key));
    const leased = (await b.store.get(ta.pk))?.quotaUsed;
    const remaining = (await b.keys.get(keyId)).quotaRemaining;
    await new Promise((resolve) => setTimeout(resolve, 600));

    ta.spends = 0;
    let allowedA = 0;
    const reasons: string[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = await a.pipeline.authorize(requestWith(key));
      if (decision.allow) allowedA++;
      else reasons.push(String((decision as { reason?: string }).reason));
      await new Promise((resolve) => setTimeout(resolve, 600)); // past the repeated-denial memory
    }
    console.log({ first, byB: byB.allow, leased, remaining, allowedA, reasons, spendsA: ta.spends });
    expect({ byB: byB.allow, leased, remaining }).toEqual({ byB: true, leased: 80, remaining: 79 });
    expect({ allowedA, reasons }).toEqual({ allowedA: 3, reasons: [] });
  }, 15_000);
});
