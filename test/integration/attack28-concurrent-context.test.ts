import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { deadlineLog, pipelineOn, requestWith } from '../support/pipeline.ts';
import { startWireProxy, type WireCall, type WireProxy } from '../support/wire-proxy.ts';

/**
 * attack28 (9e2a0d5), leakage of the hook's async context: one instance (one pipeline, one
 * client) with one request whose postAuth hook runs past its 1000 ms (margins: a loaded machine) while its write is
 * throttled (its retry refused), and — started 900 ms later, so that their SDK retries come
 * after that deadline — other requests on the same pipeline: counting writes and session
 * reads throttled once and re-sent, hook writes of other requests throttled once and re-sent
 * within their own time, `sessions.set` of another key in a `pre` hook, and requests on the
 * very key whose hook timed out. Only the timed-out hook's own attempt may be refused.
 *
 * Since a6f87ad the refusal is the SDK's (the request's abort signal, in its HTTP handler,
 * below every client middleware): what each request sent is read where it arrives, at a proxy
 * (`test/support/wire-proxy.ts`), which also throttles the first call of each (operation, pk)
 * named, answering after its delay. The timed-out hook's retry must not arrive; every other
 * throttled call must be re-sent and arrive, many of them after the deadline.
 */
describe('attack28: a timed-out hook write next to other requests on one client', () => {
  let table: TestTable;
  let proxy: WireProxy;
  /** How long the proxy takes to throttle the first call of an (operation, pk); `undefined`: forwarded. */
  let slow: (operation: string, pk: string) => number | undefined = () => undefined;
  const throttled = new Set<string>();
  const throttleDelay = (call: WireCall): number | undefined => {
    const pk = call.pks[0] ?? '';
    return throttled.has(`${call.operation} ${pk}`) ? undefined : slow(call.operation, pk);
  };
  beforeAll(async () => {
    table = await createTestTable('attack28-ctx');
    proxy = await startWireProxy(table.endpoint, {
      holdMs: (call) => throttleDelay(call) ?? 0,
      throttle: (call) => {
        if (throttleDelay(call) === undefined) return false;
        throttled.add(`${call.operation} ${call.pks[0] ?? ''}`);
        return true;
      },
    });
  });
  afterAll(async () => {
    await proxy.close();
    await table.drop();
  });

  const plugin: GatepassPlugin = {
    name: 'roles',
    async pre(ctx) {
      const other = ctx.request.headers['x-set'];
      if (other !== undefined) await ctx.sessions.set(other, { quotaMax: 9, quotaRenewalRate: 60 });
    },
    async postAuth(ctx) {
      const role = ctx.request.headers['x-role'];
      if (role === 'late') await ctx.updateSession({ quotaRenewalRate: 20 });
      if (role === 'writer' && ctx.session.quotaRenewalRate !== 30) await ctx.updateSession({ quotaRenewalRate: 30 });
    },
  };

  for (const run of [1, 2, 3]) {
    it(`run ${run}: only the timed-out hook's attempt is refused; every other request is answered`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const late = await admin.keys.create({ quotaMax: 1000, quotaRenewalRate: 0 });
      const others = await Promise.all(Array.from({ length: 6 }, () => admin.keys.create({ quotaMax: 1000, quotaRenewalRate: 0 })));
      const writers = await Promise.all(Array.from({ length: 3 }, () => admin.keys.create({ quotaMax: 1000, quotaRenewalRate: 0 })));
      const latePk = keySessionPk(late.keyId);
      const otherPks = new Set(others.map((o) => keySessionPk(o.keyId)));
      const writerPks = new Set(writers.map((w) => keySessionPk(w.keyId)));
      const setKeys = Array.from({ length: 2 }, (_, i) => `attack28-set-${run}-${i}-${Date.now()}`);
      const setPks = new Set(setKeys.map((k) => keySessionPk(keyIdOf(k))));
      slow = (operation, pk) => {
        if (operation === 'TransactWriteItems' && pk === latePk) return 1300; // the late hook's write: throttled past its deadline
        if (operation === 'UpdateItem' && (otherPks.has(pk) || pk === latePk)) return 250; // counting writes: retried after it
        if (operation === 'GetItem' && otherPks.has(pk)) return 200; // session reads: retried after it
        if (operation === 'TransactWriteItems' && writerPks.has(pk)) return 10; // other hooks' writes: retried in their time
        if (operation === 'GetItem' && setPks.has(pk)) return 10; // a pre hook's sessions.set: retried in its time
        return undefined;
      };
      const client = lambdaClient(proxy.url);
      const { log, deadline } = deadlineLog();
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 1000 }, log }).pipelineWith([plugin]);
      const outcome = (p: Promise<{ allow: boolean }>) =>
        p.then(
          (d) => (d.allow ? 'allow' : 'deny'),
          (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
        );

      const from = proxy.arrivals.length;
      const lateOutcome = outcome(pipeline.authorize(requestWith(late.key, { headers: { authorization: late.key, 'x-role': 'late' } })));
      await new Promise((resolve) => setTimeout(resolve, 900));
      const rest = await Promise.all([
        ...others.map((o) => outcome(pipeline.authorize(requestWith(o.key)))),
        ...writers.map((w) => outcome(pipeline.authorize(requestWith(w.key, { headers: { authorization: w.key, 'x-role': 'writer' } })))),
        ...setKeys.map((k) =>
          outcome(pipeline.authorize(requestWith(others[0]!.key, { headers: { authorization: others[0]!.key, 'x-set': k } }))),
        ),
        ...Array.from({ length: 3 }, () => outcome(pipeline.authorize(requestWith(late.key)))),
      ]);
      expect(await lateOutcome).toMatch(/^ERR_PLUGIN/);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      slow = () => undefined;
      const arrivals = proxy.arrivals.slice(from);

      const tag = (pk: string | undefined) =>
        setPks.has(pk!) ? 'SET' : writerPks.has(pk!) ? 'WRITER' : pk === latePk ? 'LATE' : otherPks.has(pk!) ? 'OTHER' : '';
      if (process.env.ATTACK28_DEBUG)
        for (const a of arrivals)
          console.log(Math.round(a.at - deadline()), a.operation, a.throttled ? 'throttled' : '', a.pks[0]?.slice(0, 14), tag(a.pks[0]));
      const lateWrite = (a: { operation: string; pks: readonly string[] }) => a.operation === 'TransactWriteItems' && a.pks[0] === latePk;
      // Each call the proxy throttled for another request was re-sent and reached DynamoDB.
      const notResent = arrivals
        .filter((a) => a.throttled && !lateWrite(a))
        .filter((a) => !arrivals.some((b) => !b.throttled && b.operation === a.operation && b.pks[0] === a.pks[0] && b.at > a.at))
        .map((a) => `${a.operation} ${tag(a.pks[0])} ${a.pks[0]}`);
      const resentAfterDeadline = arrivals.filter((a) => !a.throttled && a.at > deadline() && a.pks[0] !== latePk).length;
      const failed = rest.filter((r) => r !== 'allow');
      expect(
        { failed, notResent },
        `${failed.length} of ${rest.length} other requests not allowed; ${notResent.length} throttled calls of other requests not re-sent; ${resentAfterDeadline} calls of other requests reached DynamoDB after the deadline`,
      ).toEqual({ failed: [], notResent: [] });
      expect(
        arrivals.filter(lateWrite).map((a) => (a.throttled ? 'throttled' : 'forwarded')),
        'the late hook write: throttled, its retry not sent',
      ).toEqual(['throttled']);
      expect(resentAfterDeadline, 'other requests did send calls that reached DynamoDB after the deadline').toBeGreaterThan(5);
      expect((await admin.keys.get(late.keyId)).quotaRenewalRate).toBe(0);
      for (const w of writers) expect((await admin.keys.get(w.keyId)).quotaRenewalRate).toBe(30);
      client.destroy();
    });
  }
});
