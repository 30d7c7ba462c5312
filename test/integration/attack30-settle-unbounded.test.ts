import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * Attack30 (a decision past the Lambda's 3 s): a postAuth hook that starts a session write without awaiting it
 * (supported: the runner waits for such writes, `HookWrites.settle`) and answers at once. The write is a change
 * (`transactOnce`), and the session item's transactions are throttled: a change re-sends a throttled transaction under
 * its token up to 12 times with pauses of 50 ms × n (about 3.3 s in all). `settle()` runs after the hook's `#call`,
 * outside `hookTimeoutMs`: nothing bounds the wait but the write's own retries. The same hook awaiting the same write
 * fails closed at `hookTimeoutMs` (1 s): the control.
 * Expected: the request answers (allowed, or failed closed) within ~2.3 s — the bound the busy budget keeps for counts,
 * under the Lambda's 3 s — whatever a hook's write meets.
 */
const SPELL_MS = 10_000;

describe('attack30: a hook write not awaited holds the request past its hook deadline', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a30-settle');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const awaited of [false, true]) {
    it(`${awaited ? 'control: awaited' : 'not awaited'}: the request answers within 2.3 s`, async () => {
      let armedAt = 0;
      let throttled = 0;
      const client = lambdaClient();
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (armedAt > 0 && String(context.commandName) === 'TransactWriteItemsCommand' && performance.now() - armedAt < SPELL_MS) {
            throttled++;
            throw throttle('item');
          }
          return next(args);
        },
        { step: 'deserialize', priority: 'low', name: 'attack30settle' },
      );
      const A = pipelineOn(client, table.tableName);
      const plugin: GatepassPlugin = {
        name: 'touch-once',
        async postAuth(ctx) {
          if ((ctx.session.metaData as Record<string, unknown> | undefined)?.touched === true) return;
          const write = ctx.updateSession({ metaData: { touched: true } });
          if (awaited) await write;
        },
      };
      const hooked = A.pipelineWith([plugin]);
      const { key } = await A.keys.create({ quotaMax: 1000, quotaRenewalRate: 3600 });
      armedAt = performance.now();
      const answer = await hooked.authorize(requestWith(key)).then(
        (d) => (d.allow ? 'allow' : d.reason),
        (e: Error) => `500 ${e.name}`,
      );
      const ms = Math.round(performance.now() - armedAt);
      armedAt = 0;
      expect({ within: ms <= 2300 }, JSON.stringify({ awaited, answer, ms, throttled })).toEqual({ within: true });
    }, 30_000);
  }
});
