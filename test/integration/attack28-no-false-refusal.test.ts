import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

const TIMEOUT_MS = 200;

/**
 * attack28 (9e2a0d5), false refusals: writes whose DynamoDB attempts come after
 * `hookTimeoutMs` (counted from the hook's start) although the hook answered in time — an
 * un-awaited write the runner waits for (postAuth), or that goes on in the background (pre,
 * post); an `auth` hook's `{ session }` / `{ createSession }`, written by the runner after the
 * hook answered; `sessions.set` of another key; a write awaited that ends just before the
 * deadline. None may be refused (no `HookPastDeadline`), and each lands.
 */
describe('attack28: writes of hooks that answered in time are never refused', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack28-nofalse');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** The Lambdas' client; the first attempt of each (command, pk) `slow` names is throttled after its delay (re-sent by the SDK 50 ms later). Counts refusals. */
  function instrumented(slow: (command: string, pk: string) => number | undefined): { client: DynamoDBClient; refused: string[] } {
    const client = lambdaClient();
    const refused: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          if ((error as Error).name === 'HookPastDeadline') refused.push(String(context.commandName));
          throw error;
        }
      },
      { step: 'finalizeRequest', name: 'attack28Refusals' },
    );
    const done = new Set<string>();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const input = (args as unknown as { input: Record<string, unknown> }).input;
        const items = (input.TransactItems ?? []) as Record<string, { Key?: { pk?: { S?: string } }; Item?: { pk?: { S?: string } } }>[];
        const first = items[0] === undefined ? undefined : Object.values(items[0])[0];
        const pk = (input.Key as { pk?: { S?: string } } | undefined)?.pk?.S ?? first?.Key?.pk?.S ?? first?.Item?.pk?.S ?? '';
        const delay = slow(command, pk);
        if (delay === undefined || done.has(`${command} ${pk}`)) return next(args);
        done.add(`${command} ${pk}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        throw throttle('item');
      },
      { step: 'deserialize', priority: 'low', name: 'attack28Throttle' },
    );
    return { client, refused };
  }

  const outcome = (p: Promise<{ allow: boolean }>) =>
    p.then(
      (d) => (d.allow ? 'allow' : 'deny'),
      (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
    );

  for (const run of [1, 2, 3]) {
    it(`run ${run}: postAuth answers at once; its un-awaited updateSession is throttled past the hook's time`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const pk = keySessionPk(keyId);
      const { client, refused } = instrumented((c, p) => (c === 'TransactWriteItemsCommand' && p === pk ? TIMEOUT_MS + 100 : undefined));
      const plugin: GatepassPlugin = {
        name: 'answers-at-once',
        postAuth(ctx) {
          void ctx.updateSession({ quotaRenewalRate: 20 });
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
      const result = await outcome(pipeline.authorize(requestWith(key)));
      expect({ result, refused }, `${refused.length} attempts refused`).toEqual({ result: 'allow', refused: [] });
      expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);
      client.destroy();
    });

    it(`run ${run}: postAuth's un-awaited sessions.set of another key, throttled past the hook's time`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const other = `attack28-nf-other-${run}-${Date.now()}`;
      const otherPk = keySessionPk(keyIdOf(other));
      const { client, refused } = instrumented((c, p) =>
        c === 'TransactWriteItemsCommand' && p === otherPk ? TIMEOUT_MS + 100 : undefined,
      );
      const plugin: GatepassPlugin = {
        name: 'sets-other',
        postAuth(ctx) {
          void ctx.sessions.set(other, { quotaMax: 9, quotaRenewalRate: 60 });
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
      const result = await outcome(pipeline.authorize(requestWith(key)));
      expect({ result, refused }, `${refused.length} attempts refused`).toEqual({ result: 'allow', refused: [] });
      expect((await admin.keys.get(keyIdOf(other))).quotaMax).toBe(9);
      client.destroy();
    });

    it(`run ${run}: pre and post answer at once; their un-awaited sessions.set go on in the background past the hook's time`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const fromPre = `attack28-nf-pre-${run}-${Date.now()}`;
      const fromPost = `attack28-nf-post-${run}-${Date.now()}`;
      const pks = new Set([keySessionPk(keyIdOf(fromPre)), keySessionPk(keyIdOf(fromPost))]);
      const { client, refused } = instrumented((c, p) => (c === 'TransactWriteItemsCommand' && pks.has(p) ? TIMEOUT_MS + 100 : undefined));
      const writes: Promise<unknown>[] = [];
      const plugin: GatepassPlugin = {
        name: 'background-sets',
        pre(ctx) {
          writes.push(ctx.sessions.set(fromPre, { quotaMax: 11, quotaRenewalRate: 60 }));
        },
        post(ctx) {
          writes.push(ctx.sessions.set(fromPost, { quotaMax: 12, quotaRenewalRate: 60 }));
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS } }).pipelineWith([plugin]);
      const result = await outcome(pipeline.authorize(requestWith(key)));
      const settled = await Promise.allSettled(writes);
      const rejected = settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason));
      expect({ result, refused, rejected }, `${refused.length} attempts refused`).toEqual({ result: 'allow', refused: [], rejected: [] });
      expect((await admin.keys.get(keyIdOf(fromPre))).quotaMax).toBe(11);
      expect((await admin.keys.get(keyIdOf(fromPost))).quotaMax).toBe(12);
      client.destroy();
    });

    it(`run ${run}: auth answers { session } and { createSession }; the runner's writes are throttled past the hook's time`, async () => {
      const byHeader = `attack28-nf-auth-s-${run}-${Date.now()}`;
      const byCreate = `attack28-nf-auth-c-${run}-${Date.now()}`;
      const pks = new Set([keySessionPk(keyIdOf(byHeader)), keySessionPk(keyIdOf(byCreate))]);
      const { client, refused } = instrumented((c, p) => (c === 'TransactWriteItemsCommand' && pks.has(p) ? TIMEOUT_MS + 100 : undefined));
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
      expect({ results, refused }, `${refused.length} attempts refused`).toEqual({ results: ['allow', 'allow'], refused: [] });
      client.destroy();
    });

    it(`run ${run}: postAuth awaits its write, which ends just before the deadline`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const pk = keySessionPk(keyId);
      // The write's first attempt throttled after TIMEOUT_MS - 120 ms; the SDK's re-send 50 ms later lands ~70 ms before the deadline.
      const { client, refused } = instrumented((c, p) => (c === 'TransactWriteItemsCommand' && p === pk ? TIMEOUT_MS - 120 : undefined));
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
      expect({ result, refused }, `${refused.length} attempts refused; written ${Math.round(wroteAt)} ms into the hook`).toEqual({
        result: 'allow',
        refused: [],
      });
      expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);
      client.destroy();
    });
  }
});
