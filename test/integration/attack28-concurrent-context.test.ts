import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * attack28 (9e2a0d5), leakage of the hook's async context: one instance (one pipeline, one
 * client) with one request whose postAuth hook runs past its 1000 ms (margins: a loaded machine) while its write is
 * throttled (its retry refused), and — started 900 ms later, so that their SDK retries come
 * after that deadline — other requests on the same pipeline: counting writes and session
 * reads throttled once and re-sent, hook writes of other requests throttled once and re-sent
 * within their own time, `sessions.set` of another key in a `pre` hook, and requests on the
 * very key whose hook timed out. Only the timed-out hook's own attempt may be refused.
 */
describe('attack28: a timed-out hook write next to other requests on one client', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack28-ctx');
  });
  afterAll(async () => {
    await table.drop();
  });

  interface Attempt {
    readonly command: string;
    readonly pks: string[];
    readonly at: number;
    readonly refused: boolean;
  }

  /** The pks an attempt names: `Key.pk`, or each transaction item's. */
  function pksOf(input: Record<string, unknown>): string[] {
    const key = (input.Key as { pk?: { S?: string } } | undefined)?.pk?.S;
    if (key !== undefined) return [key];
    const items = (input.TransactItems ?? []) as Record<string, { Key?: { pk?: { S?: string } }; Item?: { pk?: { S?: string } } }>[];
    return items.map((item) => {
      const op = Object.values(item)[0]!;
      return op.Key?.pk?.S ?? op.Item?.pk?.S ?? '';
    });
  }

  /**
   * Records every attempt (and whether `gatepassLateAttempts` refused it: this sits above
   * it), and throttles the first attempt of each (command, pk) `slow` names after its delay.
   */
  function instrumented(slow: (command: string, pk: string) => number | undefined): { client: DynamoDBClient; attempts: Attempt[] } {
    const client = lambdaClient();
    const attempts: Attempt[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const pks = pksOf((args as unknown as { input: Record<string, unknown> }).input);
        try {
          const out = await next(args);
          attempts.push({ command: String(context.commandName), pks, at: performance.now(), refused: false });
          return out;
        } catch (error) {
          const refused = (error as Error).name === 'HookPastDeadline';
          attempts.push({ command: String(context.commandName), pks, at: performance.now(), refused });
          throw error;
        }
      },
      { step: 'finalizeRequest', name: 'attack28Attempts' },
    );
    const done = new Set<string>();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const pk = pksOf((args as unknown as { input: Record<string, unknown> }).input)[0] ?? '';
        const delay = slow(command, pk);
        if (delay === undefined || done.has(`${command} ${pk}`)) return next(args);
        done.add(`${command} ${pk}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        throw throttle('item');
      },
      { step: 'deserialize', priority: 'low', name: 'attack28Throttle' },
    );
    return { client, attempts };
  }

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
      const { client, attempts } = instrumented((command, pk) => {
        if (command === 'TransactWriteItemsCommand' && pk === latePk) return 1300; // the late hook's write: throttled past its deadline
        if (command === 'UpdateItemCommand' && (otherPks.has(pk) || pk === latePk)) return 250; // counting writes: retried after it
        if (command === 'GetItemCommand' && otherPks.has(pk)) return 200; // session reads: retried after it
        if (command === 'TransactWriteItemsCommand' && writerPks.has(pk)) return 10; // other hooks' writes: retried in their time
        if (command === 'GetItemCommand' && setPks.has(pk)) return 10; // a pre hook's sessions.set: retried in its time
        return undefined;
      });
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 1000 } }).pipelineWith([plugin]);
      const outcome = (p: Promise<{ allow: boolean }>) =>
        p.then(
          (d) => (d.allow ? 'allow' : 'deny'),
          (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
        );

      const t0 = performance.now();
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

      if (process.env.ATTACK28_DEBUG)
        for (const a of attempts)
          console.log(
            Math.round(a.at - t0),
            a.command,
            a.pks.map((p) => p.slice(0, 14)).join(','),
            a.refused,
            setPks.has(a.pks[0]!) ? 'SET' : writerPks.has(a.pks[0]!) ? 'WRITER' : a.pks[0] === latePk ? 'LATE' : '',
          );
      const refused = attempts.filter((a) => a.refused);
      const refusedElsewhere = refused.filter((a) => !(a.command === 'TransactWriteItemsCommand' && a.pks[0] === latePk));
      const resentAfterDeadline = attempts.filter((a) => !a.refused && a.at - t0 > 1010 && a.pks[0] !== latePk).length;
      const failed = rest.filter((r) => r !== 'allow');
      expect(
        { failed, refusedElsewhere: refusedElsewhere.map((a) => `${a.command} ${a.pks[0]}`) },
        `${failed.length} of ${rest.length} other requests not allowed; ${refusedElsewhere.length} other attempts refused; ${refused.length} refused in all; ${resentAfterDeadline} other attempts sent after the deadline`,
      ).toEqual({ failed: [], refusedElsewhere: [] });
      expect(refused.length, 'the late hook write: its retry refused').toBe(1);
      expect(resentAfterDeadline, 'other requests did send attempts after the deadline').toBeGreaterThan(5);
      expect((await admin.keys.get(late.keyId)).quotaRenewalRate).toBe(0);
      for (const w of writers) expect((await admin.keys.get(w.keyId)).quotaRenewalRate).toBe(30);
      client.destroy();
    });
  }
});
