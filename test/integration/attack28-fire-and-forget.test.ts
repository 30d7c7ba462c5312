import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { withoutCallSignal } from '../support/call-signal-off.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { startWireProxy, type WireCall, type WireProxy } from '../support/wire-proxy.ts';

vi.mock('../../lambdas/core/store/call-signal.ts', async (actual) =>
  (await import('../support/call-signal-off.ts')).keepingCallSignal(await actual()),
);

/**
 * attack28 (9e2a0d5): a hook that starts a session write without awaiting it (the runner
 * supports this: `#settle` waits for such writes) and then runs past `hookTimeoutMs`. Its
 * write is still going at the deadline; its next DynamoDB attempt is refused by the
 * `gatepassLateAttempts` middleware, so the promise `updateSession`/`sessions.set` handed to
 * the hook rejects (`HookPastDeadline`) with no handler: an unhandled rejection, which ends
 * a Lambda runtime (Node's default `--unhandled-rejections=throw`). In Lambda the process is
 * frozen once the request has failed closed, so the refused attempt (and the crash) comes in
 * a later invocation: another request fails. Before the change the same write landed (no
 * rejection): the control test runs without the guard and sees none.
 *
 * Fixed in a6f87ad: the write's next attempt is still refused (the SDK's HTTP handler, by the
 * request's abort signal), but the promise handed to the hook has a no-op handler: no
 * unhandled rejection. What reaches DynamoDB is read at a proxy (`test/support/wire-proxy.ts`),
 * which also answers the slow calls: the throttle 150 ms after the transaction arrived, the
 * read 150 ms late. The control runs without the abort signal (`call-signal-off.ts`).
 */
describe('attack28: fire-and-forget hook writes refused after the deadline', () => {
  let table: TestTable;
  let proxy: WireProxy;
  /** The next call the proxy answers 150 ms late (throttled, or as DynamoDB answered it). */
  let slowNext: { readonly matches: (call: WireCall) => boolean; readonly throttled: boolean } | undefined;
  beforeAll(async () => {
    table = await createTestTable('attack28-ff');
    proxy = await startWireProxy(table.endpoint, {
      holdMs: (call) => (slowNext?.matches(call) ? 150 : 0),
      throttle: (call) => {
        if (slowNext === undefined || !slowNext.matches(call)) return false;
        const { throttled } = slowNext;
        slowNext = undefined;
        return throttled;
      },
    });
  });
  afterAll(async () => {
    await proxy.close();
    await table.drop();
  });

  /** Arms the proxy: the next `operation` naming `pk` is answered 150 ms after it arrived — throttled (then re-sent by the SDK) or as sent. */
  function slow(operation: string, pk: string, throttled: boolean): void {
    slowNext = { matches: (call) => call.operation === operation && call.pks.includes(pk), throttled };
  }

  /** The calls of `operation` naming `pk` that reached the proxy. */
  const arrived = (operation: string, pk: string) =>
    proxy.arrivals.filter((a) => a.operation === operation && a.pks.includes(pk)).map((a) => (a.throttled ? 'throttled' : 'forwarded'));

  /** Runs `fn`, then waits `settleMs`, collecting the process's unhandled rejections meanwhile. */
  async function unhandledDuring(fn: () => Promise<unknown>, settleMs: number): Promise<unknown[]> {
    const seen: unknown[] = [];
    const listener = (reason: unknown) => seen.push(reason);
    process.on('unhandledRejection', listener);
    try {
      await fn();
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    } finally {
      process.off('unhandledRejection', listener);
    }
    return seen;
  }

  const names = (reasons: unknown[]) => reasons.map((r) => `${(r as Error)?.name}: ${(r as Error)?.message}`).join(' | ');

  const postAuthForget: GatepassPlugin = {
    name: 'forget-update',
    async postAuth(ctx) {
      void ctx.updateSession({ quotaRenewalRate: 20 }); // not awaited (the runner waits for it when the hook answers in time)
      await new Promise((resolve) => setTimeout(resolve, 300)); // runs past its 100 ms
    },
  };

  const preForgetSet: GatepassPlugin = {
    name: 'forget-set',
    async pre(ctx) {
      const key = ctx.request.headers['x-other'];
      if (key !== undefined) void ctx.sessions.set(key, { quotaMax: 7, quotaRenewalRate: 60 });
      await new Promise((resolve) => setTimeout(resolve, 300));
    },
  };

  for (const run of [1, 2, 3]) {
    it(`run ${run}: postAuth updateSession not awaited, its transaction throttled past the deadline → no unhandled rejection`, async () => {
      const client = lambdaClient(proxy.url);
      const admin = pipelineOn(table.client, table.tableName);
      const instance = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 100 } });
      const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
      slow('TransactWriteItems', keySessionPk(keyId), true);
      let code: string | undefined;
      const unhandled = await unhandledDuring(async () => {
        code = await instance
          .pipelineWith([postAuthForget])
          .authorize(requestWith(key))
          .then(
            () => 'allowed',
            (e: { code?: string }) => e.code,
          );
      }, 500);
      expect(code).toBe('ERR_PLUGIN');
      expect(arrived('TransactWriteItems', keySessionPk(keyId)), 'the throttled attempt only: its retry was not sent').toEqual([
        'throttled',
      ]);
      expect((await admin.keys.get(keyId)).quotaRenewalRate, 'the late write did not land').toBe(0);
      expect(unhandled.length, `unhandled rejections after the request failed closed: ${unhandled.length} (${names(unhandled)})`).toBe(0);
      client.destroy();
    });

    it(`run ${run}: pre sessions.set (another key) not awaited, its first read slow past the deadline → no unhandled rejection`, async () => {
      const client = lambdaClient(proxy.url);
      const admin = pipelineOn(table.client, table.tableName);
      const instance = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 100 } });
      const { key } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
      const other = `other-${run}-${Date.now()}`;
      const otherPk = keySessionPk(keyIdOf(other));
      slow('GetItem', otherPk, false);
      let code: string | undefined;
      const unhandled = await unhandledDuring(async () => {
        code = await instance
          .pipelineWith([preForgetSet])
          .authorize(requestWith(key, { headers: { authorization: key, 'x-other': other } }))
          .then(
            () => 'allowed',
            (e: { code?: string }) => e.code,
          );
      }, 500);
      expect(code).toBe('ERR_PLUGIN');
      expect(arrived('GetItem', otherPk), "its first read only, sent in the hook's time").toEqual(['forwarded']);
      expect(arrived('TransactWriteItems', otherPk), 'its transaction: not sent').toEqual([]);
      expect(unhandled.length, `unhandled rejections after the request failed closed: ${unhandled.length} (${names(unhandled)})`).toBe(0);
      client.destroy();
    });
  }

  it('control: without the abort signal (the code before 9e2a0d5) the same write is re-sent and lands, no rejection', async () => {
    const client = lambdaClient(proxy.url);
    const admin = pipelineOn(table.client, table.tableName);
    const instance = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 100 } });
    const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
    slow('TransactWriteItems', keySessionPk(keyId), true);
    const unhandled = await withoutCallSignal(() =>
      unhandledDuring(
        () =>
          instance
            .pipelineWith([postAuthForget])
            .authorize(requestWith(key))
            .catch(() => undefined),
        500,
      ),
    );
    expect(unhandled.length, names(unhandled)).toBe(0);
    expect(arrived('TransactWriteItems', keySessionPk(keyId))).toEqual(['throttled', 'forwarded']);
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);
    client.destroy();
  });
});
