import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { startWireProxy, type WireCall, type WireProxy } from '../support/wire-proxy.ts';

const TIMEOUT_MS = 200;

/**
 * attack28 (9e2a0d5), false refusals: writes whose DynamoDB attempts come after
 * `hookTimeoutMs` (counted from the hook's start) although the hook answered in time — an
 * un-awaited write the runner waits for (postAuth), or that goes on in the background (pre,
 * post); an `auth` hook's `{ session }` / `{ createSession }`, written by the runner after the
 * hook answered; `sessions.set` of another key; a write awaited that ends just before the
 * deadline. None may be refused, and each lands.
 *
 * But for un-awaited writes — postAuth's since attack30 (a request held past the Lambda's 3 s
 * by such a write's throttled re-sends), pre's and post's since attack34 (a pre hook's
 * deactivation landing after the Allow it raced) — the runner waits for them within the hook's deadline,
 * as for a write the hook awaits. Past it the request fails closed as on the hook's timeout and
 * the write sends nothing more (only the attempt already on the wire reached DynamoDB).
 *
 * Since a6f87ad a refusal is the SDK's (the request's abort signal, in its HTTP handler, below
 * every client middleware), so it is read where the calls arrive, at a proxy
 * (`test/support/wire-proxy.ts`): the proxy throttles the write's first transaction after a
 * delay, and the SDK's retry 50 ms later must reach DynamoDB — each write's transactions
 * arrive as `['throttled', 'forwarded']`.
 */
describe('attack28: writes of hooks that answered in time are never refused', () => {
  let table: TestTable;
  let proxy: WireProxy;
  /** How long the proxy takes to throttle the first transaction on a pk; `undefined`: forwarded. */
  let slow: (pk: string) => number | undefined = () => undefined;
  const throttled = new Set<string>();
  const throttleDelay = (call: WireCall): number | undefined => {
    const pk = call.pks[0] ?? '';
    return call.operation !== 'TransactWriteItems' || throttled.has(pk) ? undefined : slow(pk);
  };
  beforeAll(async () => {
    table = await createTestTable('attack28-nofalse');
    proxy = await startWireProxy(table.endpoint, {
      holdMs: (call) => throttleDelay(call) ?? 0,
      throttle: (call) => {
        if (throttleDelay(call) === undefined) return false;
        throttled.add(call.pks[0] ?? '');
        return true;
      },
    });
  });
  afterAll(async () => {
    await proxy.close();
    await table.drop();
  });

  /** The Lambdas' client, through the proxy, whose first transaction on each pk `delayOf` names is throttled after that delay (re-sent by the SDK 50 ms later). */
  function throttling(delayOf: (pk: string) => number | undefined): {
    client: ReturnType<typeof lambdaClient>;
    transactions: (pk: string) => string[];
  } {
    slow = delayOf;
    const from = proxy.arrivals.length;
    return {
      client: lambdaClient(proxy.url),
      transactions: (pk) =>
        proxy.arrivals
          .slice(from)
          .filter((a) => a.operation === 'TransactWriteItems' && a.pks[0] === pk)
          .map((a) => (a.throttled ? 'throttled' : 'forwarded')),
    };
  }

  /** What reached DynamoDB of a throttled write that was re-sent. */
  const RESENT = ['throttled', 'forwarded'];
  /** What reached DynamoDB of a throttled write stopped at its hook's deadline: the attempt on the wire, no re-send. */
  const STOPPED = ['throttled'];
  const PAST_DEADLINE = (plugin: string, hook = 'postAuth') => `ERR_PLUGIN: plugin ${plugin}: ${hook} hook ran past ${TIMEOUT_MS} ms`;

  const outcome = (p: Promise<{ allow: boolean }>) =>
    p.then(
      (d) => (d.allow ? 'allow' : 'deny'),
      (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
    );

  for (const run of [1, 2, 3]) {
    it(`run ${run}: postAuth answers at once; its un-awaited updateSession, throttled past the hook's time, fails it closed`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const pk = keySessionPk(keyId);
      const { client, transactions } = throttling((p) => (p === pk ? TIMEOUT_MS + 100 : undefined));
      const plugin: GatepassPlugin = {
        name: 'answers-at-once',
        postAuth(ctx) {
          void ctx.updateSession({ quotaRenewalRate: 20 });
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
      const result = await outcome(pipeline.authorize(requestWith(key)));
      expect({ result, sent: transactions(pk) }).toEqual({ result: PAST_DEADLINE('answers-at-once'), sent: STOPPED });
      expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(0);
      client.destroy();
    });

    it(`run ${run}: postAuth's un-awaited sessions.set of another key, throttled past the hook's time, fails it closed`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const other = `attack28-nf-other-${run}-${Date.now()}`;
      const otherPk = keySessionPk(keyIdOf(other));
      const { client, transactions } = throttling((p) => (p === otherPk ? TIMEOUT_MS + 100 : undefined));
      const plugin: GatepassPlugin = {
        name: 'sets-other',
        postAuth(ctx) {
          void ctx.sessions.set(other, { quotaMax: 9, quotaRenewalRate: 60 });
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
      const result = await outcome(pipeline.authorize(requestWith(key)));
      expect({ result, sent: transactions(otherPk) }).toEqual({ result: PAST_DEADLINE('sets-other'), sent: STOPPED });
      await expect(admin.keys.get(keyIdOf(other))).rejects.toThrow();
      client.destroy();
    });

    for (const hook of ['pre', 'post'] as const) {
      it(`run ${run}: ${hook} answers at once; its un-awaited sessions.set, throttled past the hook's time, fails it closed`, async () => {
        const admin = pipelineOn(table.client, table.tableName);
        const { key } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
        const other = `attack28-nf-${hook}-${run}-${Date.now()}`;
        const otherPk = keySessionPk(keyIdOf(other));
        const { client, transactions } = throttling((p) => (p === otherPk ? TIMEOUT_MS + 100 : undefined));
        const plugin: GatepassPlugin = {
          name: 'background-set',
          [hook](ctx: Parameters<NonNullable<GatepassPlugin['pre']>>[0]) {
            void ctx.sessions.set(other, { quotaMax: 11, quotaRenewalRate: 60 });
          },
        };
        const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
        const result = await outcome(pipeline.authorize(requestWith(key)));
        expect({ result, sent: transactions(otherPk) }).toEqual({ result: PAST_DEADLINE('background-set', hook), sent: STOPPED });
        await expect(admin.keys.get(keyIdOf(other))).rejects.toThrow();
        client.destroy();
      });
    }

    it(`run ${run}: auth answers { session } and { createSession }; the runner's writes are throttled past the hook's time`, async () => {
      const byHeader = `attack28-nf-auth-s-${run}-${Date.now()}`;
      const byCreate = `attack28-nf-auth-c-${run}-${Date.now()}`;
      const [headerPk, createPk] = [keySessionPk(keyIdOf(byHeader)), keySessionPk(keyIdOf(byCreate))];
      const { client, transactions } = throttling((p) => (p === headerPk || p === createPk ? TIMEOUT_MS + 100 : undefined));
      const plugin: GatepassPlugin = {
        name: 'auth-writes',
        auth(ctx) {
          const key = ctx.request.headers.authorization!;
          const session = { quotaMax: 5, quotaRenewalRate: 60, rate: 0, per: 0 };
          return key === byHeader ? { key, session } : { key, createSession: session };
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
      const results = await Promise.all([byHeader, byCreate].map((k) => outcome(pipeline.authorize(requestWith(k)))));
      expect({ results, session: transactions(headerPk), createSession: transactions(createPk) }).toEqual({
        results: ['allow', 'allow'],
        session: RESENT,
        createSession: RESENT,
      });
      client.destroy();
    });

    it(`run ${run}: postAuth awaits its write, which ends just before the deadline`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const pk = keySessionPk(keyId);
      // The write's first attempt throttled after TIMEOUT_MS - 120 ms; the SDK's re-send 50 ms later lands ~70 ms before the deadline.
      const { client, transactions } = throttling((p) => (p === pk ? TIMEOUT_MS - 120 : undefined));
      let wroteAt = 0;
      const plugin: GatepassPlugin = {
        name: 'awaits',
        async postAuth(ctx) {
          const start = performance.now();
          await ctx.updateSession({ quotaRenewalRate: 20 });
          wroteAt = performance.now() - start;
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
      const result = await outcome(pipeline.authorize(requestWith(key)));
      expect({ result, sent: transactions(pk) }, `written ${Math.round(wroteAt)} ms into the hook`).toEqual({
        result: 'allow',
        sent: RESENT,
      });
      expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);
      client.destroy();
    });
  }
});
