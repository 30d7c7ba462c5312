import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { Log } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { outcomeOf, pipelineOn } from '../support/pipeline.ts';
import { type Arrival, startWireProxy, type WireProxy } from '../support/wire-proxy.ts';

/**
 * attack28 (9e2a0d5), the same late landing through a fault that is not a timeout: the guard
 * refuses only when the hook's signal aborted with a `TimeoutError`. A hook that starts a
 * session write without awaiting it and then throws — or a `post` hook whose write goes on
 * while a later `post` hook runs past its time — fails the request closed (ERR_PLUGIN) just
 * the same, but its signal aborts plainly, so the SDK's retry of its throttled write is sent
 * after the request failed closed and lands (what 9e2a0d5 set out to stop for timeouts).
 *
 * Fixed in a6f87ad: the write carries its request's signal, aborted whenever the request
 * fails closed on its hooks (a hook timed out, threw or answered wrongly), so the SDK sends
 * no retry. What reaches DynamoDB is read at a proxy (`test/support/wire-proxy.ts`), which
 * throttles the write's first transaction 150 ms after it arrived (the SDK re-sends it 50 ms
 * later); the failure is stamped where the runner logs the fault.
 */
describe('attack28: a write of a hook whose request failed closed without a timeout', () => {
  let table: TestTable;
  let proxy: WireProxy;
  /** The pk whose next transaction the proxy throttles. */
  let throttleNextOn: string | undefined;
  const transactionOn = (pk: string | undefined) => (a: { operation: string; pks: readonly string[] }) =>
    pk !== undefined && a.operation === 'TransactWriteItems' && a.pks[0] === pk;
  beforeAll(async () => {
    table = await createTestTable('attack28-fault');
    proxy = await startWireProxy(table.endpoint, {
      holdMs: (call) => (transactionOn(throttleNextOn)(call) ? 150 : 0),
      throttle: (call) => {
        if (!transactionOn(throttleNextOn)(call)) return false;
        throttleNextOn = undefined;
        return true;
      },
    });
  });
  afterAll(async () => {
    await proxy.close();
    await table.drop();
  });

  function faultLog(): { log: Log; failedAt: () => number } {
    let at = Number.POSITIVE_INFINITY;
    const log: Log = {
      debug() {},
      info() {},
      warn() {},
      error(message) {
        if (message.startsWith('plugin failed')) at = Math.min(at, performance.now());
      },
    };
    return { log, failedAt: () => at };
  }

  const shown = (arrivals: Arrival[], failedAt: number) =>
    arrivals
      .map((a) => `${a.throttled ? 'throttled' : 'forwarded'} ${a.at > failedAt ? '+' : ''}${Math.round(a.at - failedAt)} ms`)
      .join(', ');

  for (const run of [1, 2, 3]) {
    it(`run ${run}: postAuth starts updateSession, does not await it, and throws`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const pk = keySessionPk(keyId);
      const client = lambdaClient(proxy.url);
      const { log, failedAt } = faultLog();
      const plugin: GatepassPlugin = {
        name: 'writes-then-throws',
        postAuth(ctx) {
          ctx.updateSession({ quotaRenewalRate: 20 }).catch(() => undefined);
          throw new Error('upstream check failed');
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 1000 }, log }).pipelineWith([plugin]);
      throttleNextOn = pk;
      proxy.arrivals.length = 0;
      const code = await outcomeOf(pipeline, key);
      expect(code).toBe('ERR_PLUGIN');
      const rightAfter = (await admin.keys.get(keyId)).quotaRenewalRate;
      await new Promise((resolve) => setTimeout(resolve, 500));
      throttleNextOn = undefined;
      const writes = proxy.arrivals.filter(transactionOn(pk));
      const landed = (await admin.keys.get(keyId)).quotaRenewalRate;
      client.destroy();
      expect(rightAfter).toBe(0);
      // The hook throws as soon as it started the write: its first attempt may be refused as well (no arrival).
      expect(
        { forwarded: writes.filter((a) => !a.throttled).length, atMostOne: writes.length <= 1, landed },
        `write attempts that reached DynamoDB: ${shown(writes, failedAt())} (from the failure); quotaRenewalRate after: ${landed}`,
      ).toEqual({ forwarded: 0, atMostOne: true, landed: 0 });
    });

    it(`run ${run}: a post hook's un-awaited sessions.set goes on while the next post hook runs past its time`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const other = `attack28-fault-${run}-${Date.now()}`;
      const pk = keySessionPk(keyIdOf(other));
      const client = lambdaClient(proxy.url);
      const { log, failedAt } = faultLog();
      const first: GatepassPlugin = {
        name: 'post-writer',
        post(ctx) {
          ctx.sessions.set(other, { quotaMax: 9, quotaRenewalRate: 60 }).catch(() => undefined);
        },
      };
      const second: GatepassPlugin = {
        name: 'post-slow',
        async post() {
          await new Promise((resolve) => setTimeout(resolve, 300));
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 100 }, log }).pipelineWith([first, second]);
      throttleNextOn = pk;
      proxy.arrivals.length = 0;
      const code = await outcomeOf(pipeline, key);
      expect(code).toBe('ERR_PLUGIN');
      await new Promise((resolve) => setTimeout(resolve, 500));
      throttleNextOn = undefined;
      const writes = proxy.arrivals.filter(transactionOn(pk));
      const landed = await admin.keys.get(keyIdOf(other)).then(
        (s) => s.quotaMax,
        () => 'none',
      );
      client.destroy();
      // Sent while the first hook ran, well before the second one's deadline: throttled; its retry is not sent.
      expect(
        { writes: writes.map((a) => (a.throttled ? 'throttled' : 'forwarded')), landed },
        `write attempts that reached DynamoDB: ${shown(writes, failedAt())} (from the failure); the other key's quotaMax after: ${landed}`,
      ).toEqual({ writes: ['throttled'], landed: 'none' });
    });
  }
});
