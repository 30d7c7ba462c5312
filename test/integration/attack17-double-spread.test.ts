import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { BUSY_BUDGET_MS, LAST_COUNT_MS } from '../../lambdas/core/request/busy-budget.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Fixed: a spread takes no step past the budget of the request that started it.
 *
 * Attack: a cold key (never spread) whose session item DynamoDB throttles for a while (every
 * UpdateItem of it, item-level). Request 1 counts on it, is throttled, and spreads the key: an
 * UpdateItem of the same session item tried 10 times with pauses of 15 ms × attempt (±50 %),
 * which is not bounded by the decision's budget; all throttled, it fails closed (the throttle,
 * a 500). Request 2, on the same instance 300 ms later, finds the key "heating" and waits for
 * request 1's spread; when that fails it counts on the session item again (throttled) and then
 * runs a spread of its own: 10 more attempts. So one request waits for two spreads in a row.
 * Observed: with the pauses' upper draw (Math.random pinned near 1, as run here; 3 runs) request
 * 1 fails closed after 1.32 s and request 2 after 2.32-2.34 s (24 UpdateItems of the session item);
 * with random pauses (3 runs) request 2 after 1.38-1.57 s. Expected: every request ends within
 * the budget (1.5 s, plus one ordinary DynamoDB call, 200 ms here) — 0.7 s short of the
 * Lambda's 3 s here, and a third spread is as easy to meet.
 * Suggested fix: pass the decision's `until` to the spread too (a request that waited for
 * another's failed spread fails closed on it instead of starting its own), or remember a failed
 * spread for a moment and fail closed on it at once.
 */
describe('attack17: a cold key whose session item stays throttled, two requests on one instance', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a17-double-spread');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('fails each request closed within the budget', async () => {
    const client = lambdaClient();
    let sessionPk = '';
    let raises = 0;
    throttleAttempts(client, (command, pk) => {
      if (command !== 'UpdateItemCommand' || sessionPk === '' || pk !== sessionPk) return undefined;
      raises++;
      return 'item';
    });
    const { pipeline, keys } = pipelineOn(client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    sessionPk = `key#${keyId}`;

    const random = vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const timed = async () => {
      const started = performance.now();
      const answer = await pipeline
        .authorize(requestWith(key))
        .then((d) => (d.allow ? 'allow' : (d as { reason: string }).reason))
        .catch((error: Error) => `${error.name}: ${error.message}`);
      return { answer, ms: Math.round(performance.now() - started) };
    };
    const first = timed();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = timed();
    const results = await Promise.all([first, second]);
    random.mockRestore();
    sessionPk = '';
    const summary = JSON.stringify({ results, raises });
    console.log(summary);
    for (const r of results) {
      expect(r.answer, summary).not.toBe('allow');
      expect(r.ms, summary).toBeLessThan(BUSY_BUDGET_MS + LAST_COUNT_MS + 200);
    }
  }, 15_000);
});
