import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * attack28 (9e2a0d5): a hook that starts a session write without awaiting it (the runner
 * supports this: `#settle` waits for such writes) and then runs past `hookTimeoutMs`. Its
 * write is still going at the deadline; its next DynamoDB attempt is refused by the
 * `gatepassLateAttempts` middleware, so the promise `updateSession`/`sessions.set` handed to
 * the hook rejects (`HookPastDeadline`) with no handler: an unhandled rejection, which ends
 * a Lambda runtime (Node's default `--unhandled-rejections=throw`). In Lambda the process is
 * frozen once the request has failed closed, so the refused attempt (and the crash) comes in
 * a later invocation: another request fails. Before the change the same write landed (no
 * rejection): the control test removes the middleware and sees none.
 */
describe('attack28: fire-and-forget hook writes refused after the deadline', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack28-ff');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** A client with the Lambdas' retries whose next `command` attempt is answered after `delayMs` — throttled (then re-sent by the SDK) or as sent. */
  function slowNext(command: string, delayMs: number, throttled: boolean): { client: DynamoDBClient; arm: () => void } {
    const client = lambdaClient();
    let armed = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (!armed || context.commandName !== command) return next(args);
        armed = false;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (throttled) throw throttle('item');
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'attack28SlowNext' },
    );
    return { client, arm: () => (armed = true) };
  }

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
      const { client, arm } = slowNext('TransactWriteItemsCommand', 150, true);
      const admin = pipelineOn(table.client, table.tableName);
      const instance = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 100 } });
      const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
      arm();
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
      expect((await admin.keys.get(keyId)).quotaRenewalRate, 'the late write did not land').toBe(0);
      expect(unhandled.length, `unhandled rejections after the request failed closed: ${unhandled.length} (${names(unhandled)})`).toBe(0);
      client.destroy();
    });

    it(`run ${run}: pre sessions.set (another key) not awaited, its first read slow past the deadline → no unhandled rejection`, async () => {
      const { client, arm } = slowNext('GetItemCommand', 150, false);
      const admin = pipelineOn(table.client, table.tableName);
      const instance = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 100 } });
      const { key } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
      const other = `other-${run}-${Date.now()}`;
      arm();
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
      expect(unhandled.length, `unhandled rejections after the request failed closed: ${unhandled.length} (${names(unhandled)})`).toBe(0);
      client.destroy();
    });
  }

  it('control: without the gatepassLateAttempts middleware (the code before 9e2a0d5) the same write lands, no rejection', async () => {
    const { client, arm } = slowNext('TransactWriteItemsCommand', 150, true);
    const admin = pipelineOn(table.client, table.tableName);
    const instance = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 100 } });
    client.middlewareStack.remove('gatepassLateAttempts');
    const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
    arm();
    const unhandled = await unhandledDuring(
      () =>
        instance
          .pipelineWith([postAuthForget])
          .authorize(requestWith(key))
          .catch(() => undefined),
      500,
    );
    expect(unhandled.length, names(unhandled)).toBe(0);
    expect((await admin.keys.get(keyId)).quotaRenewalRate).toBe(20);
    client.destroy();
  });
});
