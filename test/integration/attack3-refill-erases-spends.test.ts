import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { spreadKey } from '../support/hot-keys.ts';

/**
 * Attack: a fill Puts the whole counter item, keeping the windows it does not renew exactly
 * as it saw them (`{ ...seen }`), and its only condition on the counter item is "no fill
 * since" (`fills` unchanged). Spends do not move `fills`: every spend that lands on the item
 * between the failed spend that read it and the fill's Put is written back to the count seen,
 * so the requests it allowed are spent again by later ones.
 *
 * A spend can land there while the filler's could not whenever the two requests disagree on
 * whether a window is open: at every rate-window end, requests in flight whose clock (taken
 * when they started, or another instance's clock a few ms behind) is still in the old window
 * keep spending while the first request of the new window refills the rate lease. Here made
 * deterministic: instance A's clock is in the old rate window, B's in the next; B's fill is
 * held until A has spent the rest of the quota lease; then the quota lease has that room again.
 */
describe('attack3: a fill erases the spends it races with', () => {
  let table: TestTable;
  let keys: KeyService;
  const t0 = Math.floor(Date.now() / 1000) * 1000;
  let clockA = t0;
  let clockB = t0;
  /** B's transactions wait for this while set. */
  let gate: Promise<void> | undefined;
  let gated: () => void = () => {};
  let a: ReturnType<typeof pipelineOn>['pipeline'];
  let b: ReturnType<typeof pipelineOn>['pipeline'];

  beforeAll(async () => {
    table = await createTestTable('attack3-erase');
    ({ keys, pipeline: a } = pipelineOn(table.client, table.tableName, { clock: () => clockA }));
    const rawB = createDynamoClient(table.endpoint);
    rawB.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && gate !== undefined) {
          gated();
          await gate;
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdTransactions' },
    );
    ({ pipeline: b } = pipelineOn(rawB, table.tableName, { clock: () => clockB }));
  });
  afterAll(async () => {
    await table.drop();
  });

  it('never allows more than the quota when spends land between a failed spend and the fill', async () => {
    const quota = 10;
    const { key, keyId } = await keys.create({ rate: 100, per: 1, quotaMax: quota, quotaRenewalRate: 86_400 });
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 1);
    let allowed = 0;
    const count = (d: { allow: boolean }) => {
      if (d.allow) allowed++;
    };
    // A: the first fill leases the whole quota (10) and rate (100) to counter item 0; 5 spent.
    for (let i = 0; i < 5; i++) count(await a.authorize(requestWith(key)));
    expect(allowed).toBe(5);

    // B, one second on: its spend fails (rate window over by its clock), it refills the rate lease — held.
    clockB = t0 + 1000;
    let release: () => void = () => {};
    gate = new Promise((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (gated = resolve));
    const pending = b.authorize(requestWith(key));
    await reached;

    // A, still in the old rate window: spends the other 5 of the quota lease; then the quota is used up.
    clockA = t0 + 500;
    for (let i = 0; i < 6; i++) count(await a.authorize(requestWith(key)));
    expect(allowed).toBe(10);

    gate = undefined;
    release();
    count(await pending);
    // After B's fill the quota lease shows A's 5 spends undone: both instances spend them again.
    clockA = t0 + 1000;
    for (let i = 0; i < 6; i++) count(await a.authorize(requestWith(key)));
    for (let i = 0; i < 6; i++) count(await b.authorize(requestWith(key)));
    // On the bug: 16 (A's 5 spends undone and spent again, and B's own request quota-free: see attack3-partial-refill).
    expect(allowed).toBeLessThanOrEqual(quota);
  });
});
