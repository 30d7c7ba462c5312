import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin, HookContext } from '../../lambdas/core/plugins/plugin.ts';
import { withoutCallSignal } from '../support/call-signal-off.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { deadlineLog, outcomeOf, pipelineOn } from '../support/pipeline.ts';
import { type Arrival, startWireProxy, type WireCall, type WireProxy } from '../support/wire-proxy.ts';

vi.mock('../../lambdas/core/store/call-signal.ts', async (actual) =>
  (await import('../support/call-signal-off.ts')).keepingCallSignal(await actual()),
);

const TIMEOUT_MS = 100;
/**
 * An attempt the SDK sent just before the deadline reaches the proxy a little after it (the
 * proxy answers on this process's event loop): arrivals within this of the deadline are sends
 * from before it. A retry comes 50 ms after its throttle, here 150 ms after the write was sent.
 */
const WIRE_MS = 25;

/**
 * attack28 (9e2a0d5), escapes: session writes of a hook whose time is up that still send a
 * DynamoDB attempt after the deadline. The deadline is stamped where the runner logs the
 * hook's fault. A hook that catches the refusal and writes again (postAuth `updateSession`,
 * `pre` `sessions.set`), writes started 1 ms before, at, and 1 ms after the deadline: no
 * write attempt is sent after the deadline. (These held against 9e2a0d5.)
 *
 * Since a6f87ad the SDK's HTTP handler refuses the attempts (the request's abort signal),
 * below every client middleware: what was sent is read where it arrives, at a proxy
 * (`test/support/wire-proxy.ts`), which also throttles the write's first transaction 150 ms
 * after it arrived. The control runs without the abort signal (`call-signal-off.ts`): the
 * retry then reaches DynamoDB after the deadline and lands.
 */
describe('attack28: no write attempt of a timed-out hook is sent after its deadline', () => {
  let table: TestTable;
  let proxy: WireProxy;
  /** The pk whose first transaction the proxy throttles. */
  let throttleFirstOn: string | undefined;
  const throttled = new Set<string>();
  const firstTransaction = (call: WireCall) =>
    throttleFirstOn !== undefined &&
    call.operation === 'TransactWriteItems' &&
    call.pks[0] === throttleFirstOn &&
    !throttled.has(throttleFirstOn);
  beforeAll(async () => {
    table = await createTestTable('attack28-escape');
    proxy = await startWireProxy(table.endpoint, {
      holdMs: (call) => (firstTransaction(call) ? 150 : 0),
      throttle: (call) => {
        if (!firstTransaction(call)) return false;
        throttled.add(call.pks[0]!);
        return true;
      },
    });
  });
  afterAll(async () => {
    await proxy.close();
    await table.drop();
  });

  /** Keeps writing (catching every refusal) every 10 ms for 500 ms. */
  async function keepWriting(write: () => Promise<unknown>): Promise<void> {
    const until = performance.now() + 500;
    while (performance.now() < until) {
      await write().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  interface Case {
    readonly code: string;
    /** The write's calls that reached DynamoDB, and those of them that arrived after the deadline (+ WIRE_MS). */
    readonly writes: Arrival[];
    readonly late: Arrival[];
    readonly deadline: number;
  }

  async function runCase(
    plugin: (targetKey: string) => GatepassPlugin,
    targetPk: (keyId: string, other: string) => string,
    slowFirstTransaction: boolean,
  ): Promise<Case> {
    const admin = pipelineOn(table.client, table.tableName);
    const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
    const other = `attack28-esc-${Date.now()}-${Math.random()}`;
    const pk = targetPk(keyId, other);
    const client = lambdaClient(proxy.url);
    const { log, deadline } = deadlineLog();
    const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS }, log }).pipelineWith([plugin(other)]);
    throttleFirstOn = slowFirstTransaction ? pk : undefined;
    const from = proxy.arrivals.length;
    const code = await outcomeOf(pipeline, key);
    await new Promise((resolve) => setTimeout(resolve, 700));
    throttleFirstOn = undefined;
    client.destroy();
    const writes = proxy.arrivals.slice(from).filter((a) => a.pks.some((p) => p.startsWith(pk) || p === `pastlife#${pk}`));
    if (process.env.ATTACK28_DEBUG) console.log(writes.map((a) => `${a.operation} ${Math.round(a.at - deadline())}`).join(', '));
    return { code, writes, late: writes.filter((a) => a.at > deadline() + WIRE_MS), deadline: deadline() };
  }

  /** No write landed after the failure, and no transaction reached the table at all. */
  const expectNothingLanded = (r: Case) => {
    expect(r.late.length, describeLate(r)).toBe(0);
    expect(
      r.writes.filter((a) => a.operation === 'TransactWriteItems' && !a.throttled),
      'a transaction that reached the table',
    ).toEqual([]);
  };
  const describeLate = (r: Case) =>
    `${r.late.length} attempts reached DynamoDB more than ${WIRE_MS} ms after the deadline (${r.late
      .map((a) => `${a.operation} +${Math.round(a.at - r.deadline)} ms`)
      .join(', ')}); ${r.writes.length} in all`;

  const retryingUpdate = (): GatepassPlugin => ({
    name: 'retrying-update',
    async postAuth(ctx) {
      await keepWriting(() => ctx.updateSession({ quotaRenewalRate: 20 }));
    },
  });

  for (const run of [1, 2, 3]) {
    it(`run ${run}: postAuth catches the refusal and calls updateSession again and again`, async () => {
      const r = await runCase(retryingUpdate, (keyId) => keySessionPk(keyId), true);
      expect(r.code).toBe('ERR_PLUGIN');
      expectNothingLanded(r);
    });

    it(`run ${run}: pre catches the refusal and calls sessions.set (another key) again and again`, async () => {
      const r = await runCase(
        (other) => ({
          name: 'retrying-set',
          async pre(ctx) {
            await keepWriting(() => ctx.sessions.set(other, { quotaMax: 9, quotaRenewalRate: 60 }));
          },
        }),
        (_keyId, other) => keySessionPk(keyIdOf(other)),
        true,
      );
      expect(r.code).toBe('ERR_PLUGIN');
      expectNothingLanded(r);
    });

    for (const offset of [-1, 0, 1]) {
      it(`run ${run}: postAuth starts updateSession ${offset} ms from its deadline, then hangs`, async () => {
        const r = await runCase(
          () => ({
            name: 'edge-writer',
            async postAuth(ctx: HookContext & { updateSession(patch: object): Promise<unknown> }) {
              await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + offset));
              await ctx.updateSession({ quotaRenewalRate: 20 }).catch(() => undefined);
              await new Promise((resolve) => setTimeout(resolve, 300));
            },
          }),
          (keyId) => keySessionPk(keyId),
          false,
        );
        expect(r.code).toBe('ERR_PLUGIN');
        expect(r.late.length, describeLate(r)).toBe(0);
      });
    }
  }

  it('control: without the abort signal the retry of the throttled updateSession reaches DynamoDB after the deadline', async () => {
    const r = await withoutCallSignal(() => runCase(retryingUpdate, (keyId) => keySessionPk(keyId), true));
    expect(r.code).toBe('ERR_PLUGIN');
    expect(
      r.late.map((a) => `${a.operation}${a.throttled ? ' (throttled)' : ''}`),
      describeLate(r),
    ).toEqual(['TransactWriteItems']);
  });
});
