import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLog, type Log } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { startWireProxy, type WireCall, type WireProxy } from '../support/wire-proxy.ts';

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
 *
 * The instances' calls go through a proxy (`test/support/wire-proxy.ts`) that sees what reaches
 * DynamoDB: once the request has failed closed the SDK sends none of the hook's calls any more
 * (`call-signal.ts`), so a write "still on its way" is one already sent — held on the wire here.
 */
describe('a hook write that lands after its request failed closed', () => {
  let table: TestTable;
  let proxy: WireProxy;
  let client: DynamoDBClient;
  /** What the proxy does with the next transaction that reaches it: holds it 300 ms, or throttles it 150 ms after it arrived. */
  let nextTransaction: 'hold' | 'throttle' | undefined;
  const transaction = (call: WireCall) => call.operation === 'TransactWriteItems';
  beforeAll(async () => {
    table = await createTestTable('hook-write-after-fault');
    proxy = await startWireProxy(table.endpoint, {
      holdMs: (call) => {
        if (!transaction(call) || nextTransaction === undefined) return 0;
        return nextTransaction === 'hold' ? 300 : 150;
      },
      throttle: (call) => {
        if (!transaction(call) || nextTransaction === undefined) return false;
        const throttled = nextTransaction === 'throttle';
        nextTransaction = undefined; // called after holdMs: the next transaction only
        return throttled;
      },
    });
    client = createDynamoClient(proxy.url);
  });
  afterAll(async () => {
    client?.destroy();
    await proxy?.close();
    await table.drop();
  });

  /** Reads the key's `quotaRenewalRate` until it is `rate` or `withinMs` have passed; answers the last read. */
  async function renewalRateBecomes(keyId: string, rate: number, withinMs: number): Promise<number | undefined> {
    const admin = pipelineOn(table.client, table.tableName);
    const until = performance.now() + withinMs;
    for (;;) {
      const read = (await admin.keys.get(keyId)).quotaRenewalRate;
      if (read === rate || performance.now() > until) return read;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('lands after the fault, and the quota renews by the window rule at the next request past the end', async () => {
    let now = Date.UTC(2027, 0, 15, 12);
    const admin = pipelineOn(table.client, table.tableName, { clock: () => now });
    // The request fails closed when the runner logs the hook's fault.
    let failedAt = Number.POSITIVE_INFINITY;
    const log: Log = { ...silentLog, error: () => void (failedAt = Math.min(failedAt, performance.now())) };
    const instance = pipelineOn(client, table.tableName, { clock: () => now, config: { hookTimeoutMs: 100 }, log });
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

    // The hook's transaction is sent within its time and is slow on the wire: the proxy forwards it 300 ms after it arrived.
    nextTransaction = 'hold';
    proxy.arrivals.length = 0;
    const fault = await hooked.authorize(requestWith(key, { headers: { authorization: key, 'x-renew': '1' } })).then(
      () => undefined,
      (error: { code?: string }) => error.code,
    );
    expect(fault).toBe('ERR_PLUGIN');
    const writes = proxy.arrivals.filter(transaction);
    expect(writes, 'the hook write reached DynamoDB once, before the deadline').toHaveLength(1);
    expect(writes[0]!.at).toBeLessThan(failedAt);
    // Read right after the answer: the old settings (what the history checker read back).
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(0);
    // Then the write lands: the key has a renewal rate that no request answered for.
    expect(await renewalRateBecomes(keyId, 20, 2000)).toBe(20);

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

  it('sends no retry of a throttled hook write once the request has failed closed: the write does not land', async () => {
    const retried = lambdaClient(proxy.url); // the Lambdas' attempts: a throttle is re-sent after 50 ms
    const admin = pipelineOn(table.client, table.tableName);
    const instance = pipelineOn(retried, table.tableName, { config: { hookTimeoutMs: 100 } });
    const renewing: GatepassPlugin = {
      name: 'write-limits',
      async postAuth(ctx) {
        if (ctx.session.quotaRenewalRate !== 20) await ctx.updateSession({ quotaRenewalRate: 20 });
      },
    };
    const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
    // DynamoDB throttles the hook's transaction, answering 150 ms after it arrived: past the hook's 100 ms.
    nextTransaction = 'throttle';
    proxy.arrivals.length = 0;
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
    expect(
      proxy.arrivals.filter(transaction).map((a) => (a.throttled ? 'throttled' : 'forwarded')),
      'the throttled attempt only reached DynamoDB: its retry was not sent',
    ).toEqual(['throttled']);
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(0);
    // The same write within the hook's time lands: the key is written, the request allowed.
    const onTime = await pipelineOn(retried, table.tableName, { config: { hookTimeoutMs: 1000 } })
      .pipelineWith([renewing])
      .authorize(requestWith(key));
    expect(onTime.allow).toBe(true);
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);
    retried.destroy();
  });
});
