import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { Log } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin, HookContext } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

const TIMEOUT_MS = 100;

/**
 * attack28 (9e2a0d5), escapes: session writes of a hook whose time is up that still send a
 * DynamoDB attempt after the deadline. Each attempt that gets past `gatepassLateAttempts` is
 * stamped where it is handed to the HTTP handler (the deserialize step, below the guard);
 * the deadline is stamped where the runner logs the hook's fault. A hook that catches the
 * refusal and writes again (postAuth `updateSession`, `pre` `sessions.set`), writes started
 * 1 ms before, at, and 1 ms after the deadline: no write attempt is sent after the deadline.
 */
describe('attack28: no write attempt of a timed-out hook is sent after its deadline', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack28-escape');
  });
  afterAll(async () => {
    await table.drop();
  });

  interface Sent {
    readonly command: string;
    readonly pk: string;
    readonly at: number;
  }

  function pkOf(input: Record<string, unknown>): string {
    const items = (input.TransactItems ?? []) as Record<string, { Key?: { pk?: { S?: string } }; Item?: { pk?: { S?: string } } }>[];
    const first = items[0] === undefined ? undefined : Object.values(items[0])[0];
    return (input.Key as { pk?: { S?: string } } | undefined)?.pk?.S ?? first?.Key?.pk?.S ?? first?.Item?.pk?.S ?? '';
  }

  /** The Lambdas' client: stamps attempts sent; throttles the first attempt of a (command, pk) `slow` names after its delay. */
  function instrumented(slow: (command: string, pk: string) => number | undefined): { client: DynamoDBClient; sent: Sent[] } {
    const client = lambdaClient();
    const sent: Sent[] = [];
    const done = new Set<string>();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const pk = pkOf((args as unknown as { input: Record<string, unknown> }).input);
        sent.push({ command, pk, at: performance.now() });
        const delay = slow(command, pk);
        if (delay === undefined || done.has(`${command} ${pk}`)) return next(args);
        done.add(`${command} ${pk}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        throw throttle('item');
      },
      { step: 'deserialize', priority: 'low', name: 'attack28Sent' },
    );
    return { client, sent };
  }

  /** A log that stamps the first hook fault (the deadline). */
  function deadlineLog(): { log: Log; deadline: () => number } {
    let at = Number.POSITIVE_INFINITY;
    const log: Log = {
      debug() {},
      info() {},
      warn() {},
      error(_message, ...extra) {
        if (String((extra[0] as { error?: unknown } | undefined)?.error).includes('ran past')) at = Math.min(at, performance.now());
      },
    };
    return { log, deadline: () => at };
  }

  /** Keeps writing (catching every refusal) every 10 ms for 500 ms. */
  async function keepWriting(write: () => Promise<unknown>): Promise<void> {
    const until = performance.now() + 500;
    while (performance.now() < until) {
      await write().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function runCase(
    plugin: (targetKey: string) => GatepassPlugin,
    targetPk: (keyId: string, other: string) => string,
    slowFirstTransaction: boolean,
  ): Promise<{ code: string; late: Sent[]; writes: Sent[]; deadline: number }> {
    const admin = pipelineOn(table.client, table.tableName);
    const { key, keyId } = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
    const other = `attack28-esc-${Date.now()}-${Math.random()}`;
    const pk = targetPk(keyId, other);
    const { client, sent } = instrumented((c, p) =>
      slowFirstTransaction && c === 'TransactWriteItemsCommand' && p === pk ? 150 : undefined,
    );
    const { log, deadline } = deadlineLog();
    const pipeline = pipelineOn(client, table.tableName, { config: { hookTimeoutMs: TIMEOUT_MS }, log }).pipelineWith([plugin(other)]);
    // Sensitivity check: ATTACK28_NO_GUARD=1 runs without the guard (the code before 9e2a0d5): the retry cases then fail.
    if (process.env.ATTACK28_NO_GUARD) client.middlewareStack.remove('gatepassLateAttempts');
    const code = await pipeline.authorize(requestWith(key)).then(
      () => 'allowed',
      (e: { code?: string }) => String(e.code),
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    client.destroy();
    const writes = sent.filter((s) => s.pk === pk || s.pk === `pastlife#${pk}` || s.pk.startsWith(`${pk}`));
    return { code, late: writes.filter((s) => s.at > deadline()), writes, deadline: deadline() };
  }

  const describeLate = (r: { late: Sent[]; writes: Sent[]; deadline: number }) =>
    `${r.late.length} attempts sent after the deadline (${r.late.map((s) => `${s.command} +${Math.round(s.at - r.deadline)} ms`).join(', ')}); ${r.writes.length} attempts in all`;

  for (const run of [1, 2, 3]) {
    it(`run ${run}: postAuth catches the refusal and calls updateSession again and again`, async () => {
      const r = await runCase(
        () => ({
          name: 'retrying-update',
          async postAuth(ctx) {
            await keepWriting(() => ctx.updateSession({ quotaRenewalRate: 20 }));
          },
        }),
        (keyId) => keySessionPk(keyId),
        true,
      );
      expect(r.code).toBe('ERR_PLUGIN');
      expect(r.late.length, describeLate(r)).toBe(0);
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
      expect(r.late.length, describeLate(r)).toBe(0);
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
});
