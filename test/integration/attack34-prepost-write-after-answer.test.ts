import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack34: `HookWrites` promises that the request waits for the session writes a hook started and did not
 * await, and that none lands after the answer (but a call already sent). Only `postAuth` gets that wait
 * (`HookCalls.#call(..., settle)`); `pre`, `auth` and `post` answer without it (auth: see
 * attack34-auth-write-after-answer). A `pre` (or `post`) hook starts
 * `sessions.set(key, { ..., isInactive: true })` without awaiting it and answers; the write's first
 * write call is slow (400 ms before it is sent). The request is decided on the session as it was (Allow),
 * and the deactivation is sent and lands after the answer.
 * Expected: the deactivation a `pre` hook started is decided on (deny), or never lands; for either hook the item does not change
 * after the answer.
 */
describe('attack34: a pre or post hook write not awaited lands after the answer', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a34-prepost-after');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const hook of ['pre', 'post'] as const) {
    it(`${hook}: the item is the same right after the answer and 1 s later`, async () => {
      let armed = false;
      const client = lambdaClient();
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const name = String(context.commandName);
          if (armed && (name.startsWith('TransactWrite') || name.startsWith('Put'))) {
            armed = false; // the hook's write: slow before it is sent
            await sleep(400);
          }
          return next(args);
        },
        { step: 'initialize', name: 'attack34slow' },
      );
      const A = pipelineOn(client, table.tableName);
      const { key, keyId } = await A.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
      const deactivate = (ctx: {
        request: { headers: Record<string, string | undefined> };
        sessions: { set: (k: string, s: never) => Promise<unknown> };
      }) => {
        void ctx.sessions
          .set(ctx.request.headers.authorization!, { quotaMax: 100, quotaRenewalRate: 3600, isInactive: true } as never)
          .catch(() => undefined);
      };
      const plugin: GatepassPlugin =
        hook === 'pre'
          ? { name: 'pre-deactivates', pre: (ctx) => deactivate(ctx) }
          : { name: 'post-deactivates', post: (ctx) => deactivate(ctx) };
      armed = true;
      const answer = await A.pipelineWith([plugin])
        .authorize(requestWith(key))
        .then(
          (d) => (d.allow ? 'allow' : d.reason),
          (e: Error) => `500 ${e.name}`,
        );
      const atAnswer = await A.keys.get(keyId);
      await sleep(1000);
      const later = await A.keys.get(keyId);
      expect({ answer, atAnswer: atAnswer.isInactive === true, later: later.isInactive === true }).toEqual({
        // post runs after the decision: its write may only land before the answer, or not at all.
        answer: hook === 'pre' && later.isInactive === true ? expect.not.stringMatching(/^allow$/) : answer,
        atAnswer: later.isInactive === true,
        later: later.isInactive === true,
      });
    });
  }
});
