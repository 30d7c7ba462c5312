import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Log } from '../../lambdas/core/model/log.ts';
import '../../lambdas/core/model/session.ts'; // zod, which a hook's first patch imports: loaded before, not inside the hook's 100 ms
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { outcomeOf, pipelineOn } from '../support/pipeline.ts';
import { startWireProxy, type WireProxy } from '../support/wire-proxy.ts';

const TIMEOUT_MS = 100;
/** How long the proxy holds a call that names `attack28-hold`: from the hook's start to past its deadline. */
const HOLD_MS = 190;
/** When the hook writes: its attempt waits for the socket less than the Lambdas' 200 ms connectionTimeout. */
const WRITE_AT_MS = 60;

/**
 * attack28 (9e2a0d5), the gap between the guard and the wire: `gatepassLateAttempts` checks
 * an attempt in the finalizeRequest step; after it the HTTP handler may still wait for a
 * pooled socket (or connect). An attempt that passed the guard in the hook's time but waits
 * for a socket is sent after the deadline and lands — it was not "already on the wire". The
 * Lambdas' client bounds the wait (its 200 ms connectionTimeout runs while the attempt waits
 * for a socket), so a late send stays within ~200 ms of the guard; the pool here has 1 socket
 * (the Lambdas' has 50), held by another call of the same instance through a proxy that
 * delays it.
 *
 * Fixed in a6f87ad: the write's calls carry the request's abort signal as the SDK's
 * `abortSignal`, and the SDK's HTTP handler drops an attempt still waiting for a socket once
 * the request has failed closed: nothing of the write reaches DynamoDB after the deadline
 * (arrivals at the proxy, `test/support/wire-proxy.ts`), and it does not land.
 */
describe('attack28: a hook write attempt queued for a socket past the deadline', () => {
  let table: TestTable;
  let proxy: WireProxy;
  beforeAll(async () => {
    table = await createTestTable('attack28-queue');
    proxy = await startWireProxy(table.endpoint, { holdMs: (call) => (call.pks.includes('attack28-hold') ? HOLD_MS : 0) });
  });
  afterAll(async () => {
    await proxy.close();
    await table.drop();
  });

  for (const run of [1, 2, 3]) {
    it(`run ${run}: no write of the timed-out hook is sent after its deadline`, async () => {
      const client = lambdaClient(proxy.url, { sockets: 1 });
      let deadline = Number.POSITIVE_INFINITY;
      const log: Log = {
        debug() {},
        info() {},
        warn() {},
        error(_m, ...extra) {
          if (String((extra[0] as { error?: unknown } | undefined)?.error).includes('ran past'))
            deadline = Math.min(deadline, performance.now());
        },
      };
      let hookStarted!: () => void;
      const started = new Promise<void>((resolve) => (hookStarted = resolve));
      const plugin: GatepassPlugin = {
        name: 'slow-pool',
        async postAuth(ctx) {
          hookStarted();
          await new Promise((resolve) => setTimeout(resolve, WRITE_AT_MS));
          await ctx.updateSession({ quotaRenewalRate: 20 });
        },
      };
      const admin = pipelineOn(table.client, table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS }, log }).pipelineWith([plugin]);
      proxy.arrivals.length = 0;
      const answer = outcomeOf(pipeline, key);
      await started;
      // Another call of this instance takes the one socket for HOLD_MS.
      const holder = client.send(new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: 'attack28-hold' } } }));
      expect(await answer).toBe('ERR_PLUGIN');
      const rightAfter = (await admin.keys.get(keyId)).quotaRenewalRate;
      await holder;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const landed = (await admin.keys.get(keyId)).quotaRenewalRate;
      const writes = proxy.arrivals.filter((a) => a.operation === 'TransactWriteItems');
      const lateSends = writes.filter((a) => a.at > deadline);
      if (process.env.ATTACK28_DEBUG) console.log(proxy.arrivals.map((a) => `${a.operation} ${Math.round(a.at - deadline)}`).join('\n'));
      client.destroy();
      expect(rightAfter).toBe(0);
      expect(
        { lateSends: lateSends.length, landed },
        `${lateSends.length} hook write attempts reached DynamoDB after the deadline (${lateSends.map((a) => `+${Math.round(a.at - deadline)} ms`).join(', ')}); quotaRenewalRate read after: ${landed}`,
      ).toEqual({ lateSends: 0, landed: 0 });
      // The write waited for the socket the whole time: none of its attempts reached DynamoDB at all.
      expect(writes, 'hook write attempts that reached DynamoDB').toHaveLength(0);
    });
  }
});
