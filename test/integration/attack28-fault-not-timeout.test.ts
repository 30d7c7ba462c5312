import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { Log } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * attack28 (9e2a0d5), the same late landing through a fault that is not a timeout: the guard
 * refuses only when the hook's signal aborted with a `TimeoutError`. A hook that starts a
 * session write without awaiting it and then throws — or a `post` hook whose write goes on
 * while a later `post` hook runs past its time — fails the request closed (ERR_PLUGIN) just
 * the same, but its signal aborts plainly, so the SDK's retry of its throttled write is sent
 * after the request failed closed and lands (what 9e2a0d5 set out to stop for timeouts).
 * Each attempt handed to the HTTP handler is stamped; the failure is stamped where the
 * runner logs the fault.
 */
describe('attack28: a write of a hook whose request failed closed without a timeout', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack28-fault');
  });
  afterAll(async () => {
    await table.drop();
  });

  function pkOf(input: Record<string, unknown>): string {
    const items = (input.TransactItems ?? []) as Record<string, { Key?: { pk?: { S?: string } }; Item?: { pk?: { S?: string } } }>[];
    const first = items[0] === undefined ? undefined : Object.values(items[0])[0];
    return (input.Key as { pk?: { S?: string } } | undefined)?.pk?.S ?? first?.Key?.pk?.S ?? first?.Item?.pk?.S ?? '';
  }

  /** The Lambdas' client: stamps transactions sent on `pk`, and throttles the first one after 150 ms (the SDK re-sends it 50 ms later). */
  function instrumented(pk: () => string): { client: DynamoDBClient; sent: number[] } {
    const client = lambdaClient();
    const sent: number[] = [];
    let throttled = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (
          context.commandName !== 'TransactWriteItemsCommand' ||
          pkOf((args as unknown as { input: Record<string, unknown> }).input) !== pk()
        )
          return next(args);
        sent.push(performance.now());
        if (throttled) return next(args);
        throttled = true;
        await new Promise((resolve) => setTimeout(resolve, 150));
        throw throttle('item');
      },
      { step: 'deserialize', priority: 'low', name: 'attack28ThrottleOnce' },
    );
    return { client, sent };
  }

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

  for (const run of [1, 2, 3]) {
    it(`run ${run}: postAuth starts updateSession, does not await it, and throws`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const { client, sent } = instrumented(() => keySessionPk(keyId));
      const { log, failedAt } = faultLog();
      const plugin: GatepassPlugin = {
        name: 'writes-then-throws',
        postAuth(ctx) {
          ctx.updateSession({ quotaRenewalRate: 20 }).catch(() => undefined);
          throw new Error('upstream check failed');
        },
      };
      const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: 1000 }, log }).pipelineWith([plugin]);
      const code = await pipeline.authorize(requestWith(key)).then(
        () => 'allowed',
        (e: { code?: string }) => String(e.code),
      );
      expect(code).toBe('ERR_PLUGIN');
      const rightAfter = (await admin.keys.get(keyId)).quotaRenewalRate;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const late = sent.filter((at) => at > failedAt());
      const landed = (await admin.keys.get(keyId)).quotaRenewalRate;
      client.destroy();
      expect(rightAfter).toBe(0);
      expect(
        { late: late.length, landed },
        `${late.length} write attempts sent after the request failed closed (${late.map((at) => `+${Math.round(at - failedAt())} ms`).join(', ')}); quotaRenewalRate after: ${landed}`,
      ).toEqual({ late: 0, landed: 0 });
    });

    it(`run ${run}: a post hook's un-awaited sessions.set goes on while the next post hook runs past its time`, async () => {
      const admin = pipelineOn(table.client, table.tableName);
      const { key } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
      const other = `attack28-fault-${run}-${Date.now()}`;
      const { client, sent } = instrumented(() => keySessionPk(keyIdOf(other)));
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
      const code = await pipeline.authorize(requestWith(key)).then(
        () => 'allowed',
        (e: { code?: string }) => String(e.code),
      );
      expect(code).toBe('ERR_PLUGIN');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const late = sent.filter((at) => at > failedAt());
      const landed = await admin.keys.get(keyIdOf(other)).then(
        (s) => s.quotaMax,
        () => 'none',
      );
      client.destroy();
      expect(
        { late: late.length, landed },
        `${late.length} write attempts sent after the request failed closed (${late.map((at) => `+${Math.round(at - failedAt())} ms`).join(', ')}); the other key's quotaMax after: ${landed}`,
      ).toEqual({ late: 0, landed: 'none' });
    });
  }
});
