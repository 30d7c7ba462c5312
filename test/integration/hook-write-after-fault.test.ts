import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * A hook's session write that is still on its way when the hook runs past its deadline: the
 * request fails closed (ERR_PLUGIN), and the write lands after the answer — after anyone
 * reading the key right after the request has seen the old settings. It is a plugin's
 * settings change like any other, so the window rule (docs/ARCHITECTURE.md) applies to it: a
 * quota that never renewed and is given a renewal rate keeps its count and ends at
 * start + length — a window long over opens anew at the next request. Nothing is granted
 * beyond a limit: the renewal is the write's, not an over-grant. (The history checker's
 * seed 4257: `quotaRenewalRate 20` asked by a request that failed closed, the key read back
 * with 0 after its batch, denied 66 s later on what an instance remembered, renewed 137 s later.)
 */
describe('a hook write that lands after its request failed closed', () => {
  let table: TestTable;
  let client: DynamoDBClient;
  beforeAll(async () => {
    table = await createTestTable('hook-write-after-fault');
    client = createDynamoClient(table.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await table.drop();
  });

  it('lands after the fault, and the quota renews by the window rule at the next request past the end', async () => {
    let now = Date.UTC(2027, 0, 15, 12);
    // The next transaction of the instance's client is slow on the wire: sent within the hook's time, it lands 300 ms later.
    let slowNext = false;
    let landed: Promise<unknown> | undefined;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (!slowNext || context.commandName !== 'TransactWriteItemsCommand') return next(args);
        slowNext = false;
        const sent = new Promise((resolve) => setTimeout(resolve, 300)).then(() => next(args));
        landed = sent;
        return sent;
      },
      { step: 'deserialize', priority: 'low', name: 'slowTransaction' },
    );
    const admin = pipelineOn(table.client, table.tableName, { clock: () => now });
    const instance = pipelineOn(client, table.tableName, { clock: () => now, config: { hookTimeoutMs: 100 } });
    const renewing: GatepassPlugin = {
      name: 'write-limits',
      async postAuth(ctx) {
        if (ctx.request.headers['x-renew'] === undefined || ctx.session.quotaRenewalRate === 20) return;
        await ctx.updateSession({ quotaRenewalRate: 20 });
      },
    };
    const hooked = instance.pipelineWith([renewing]);
    const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });

    for (let i = 0; i < 3; i++) expect((await instance.pipeline.authorize(requestWith(key))).allow).toBe(true);
    expect(await instance.pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'quota_exceeded' });

    slowNext = true;
    const fault = await hooked.authorize(requestWith(key, { headers: { authorization: key, 'x-renew': '1' } })).then(
      () => undefined,
      (error: { code?: string }) => error.code,
    );
    expect(fault).toBe('ERR_PLUGIN');
    // Read right after the answer: the old settings (what the history checker read back).
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(0);
    await landed;
    // Then the write lands: the key has a renewal rate that no request answered for.
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);

    // Still within start + 20 s: the count is kept (no quota given back).
    now += 10_000;
    expect(await admin.pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'quota_exceeded' });
    // Past it: a new window, the quota once more (the window rule), never more than 3.
    now += 127_000;
    const after = await Promise.all(Array.from({ length: 5 }, () => admin.pipeline.authorize(requestWith(key))));
    expect(after.filter((d) => d.allow)).toHaveLength(3);
    const renewed = await admin.keys.get(keyId);
    expect(renewed.quotaRemaining).toBe(0);
    expect(renewed.quotaRenews).toBe(Math.ceil((now + 20_000) / 1000));
  });

  it("sends no retry of a throttled hook write once the hook's time is up: the write does not land", async () => {
    const retried = lambdaClient(); // the Lambdas' attempts: a throttle is re-sent after 50 ms
    // The hook's transaction is throttled once, 150 ms after it was sent: past the hook's 100 ms.
    const sent: number[] = [];
    let throttleNext = false;
    retried.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
        sent.push(Date.now());
        if (!throttleNext) return next(args);
        throttleNext = false;
        await new Promise((resolve) => setTimeout(resolve, 150));
        throw throttle('item');
      },
      { step: 'deserialize', priority: 'low', name: 'throttleOnce' },
    );
    const admin = pipelineOn(table.client, table.tableName);
    const instance = pipelineOn(retried, table.tableName, { config: { hookTimeoutMs: 100 } });
    const renewing: GatepassPlugin = {
      name: 'write-limits',
      async postAuth(ctx) {
        if (ctx.session.quotaRenewalRate !== 20) await ctx.updateSession({ quotaRenewalRate: 20 });
      },
    };
    const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
    throttleNext = true;
    const fault = await instance
      .pipelineWith([renewing])
      .authorize(requestWith(key))
      .then(
        () => undefined,
        (error: { code?: string }) => error.code,
      );
    expect(fault).toBe('ERR_PLUGIN');
    // Time for the SDK's retry (50 ms after the throttle) and more.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(sent, 'the throttled attempt only: its retry was not sent').toHaveLength(1);
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(0);
    // The same write within the hook's time lands: the key is written, the request allowed.
    const onTime = await pipelineOn(retried, table.tableName, { config: { hookTimeoutMs: 1000 } })
      .pipelineWith([renewing])
      .authorize(requestWith(key));
    expect(onTime.allow).toBe(true);
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);
  });
});
