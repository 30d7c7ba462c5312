import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { BUSY_BUDGET_MS, LAST_COUNT_MS } from '../../lambdas/core/request/busy-budget.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts, type ThrottleKind } from '../support/throttles.ts';

/**
 * Fixed: busy counts no longer use up the pipeline's decisions; they pause (15 ms, doubling each time) and are bounded by the budget alone.
 *
 * Attack: the busy path counts again "for up to 1.5 s, then fails closed" — but each count
 * again is also one of the pipeline's 8 attempts (MAX_ATTEMPTS, meant for writes in conflict).
 * A hot key with plenty of room (quota 1000, 8 counter items holding leases) whose counter
 * items are busy for a short while — a table throttle, or item throttles of all 8 — for
 * `busyMs` after the request starts (well under the budget). Does the request ride it out and
 * get its Allow, or fail closed (500) long before the budget is spent?
 * Observed (3 runs each): the request failed closed — ContentionError "gave up after 8
 * conflicting writes" — after 70-240 ms (8 counts of 8 busy steps: 64 throttled attempts, the
 * key not grown), a fraction of the budget and while the 300 ms spell was still on; the next
 * request, after the spell, was allowed. Expected: the request counts again until the spell
 * ends (well within 1.5 s) and is allowed.
 */
describe('a hot key whose counter items are busy for a spell shorter than the busy budget', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a16-busy-attempts');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const kind of ['table', 'item'] as const satisfies readonly ThrottleKind[]) {
    it(`a ${kind} throttle of 300 ms: the request is allowed, not failed closed early`, async () => {
      const client = lambdaClient();
      let sessionPk = '';
      let sessionThrottles = 0;
      let busyUntil = 0;
      let busyMet = 0;
      throttleAttempts(client, (command, pk) => {
        if (sessionPk === '') return undefined;
        if (command === 'UpdateItemCommand' && pk === sessionPk && sessionThrottles > 0) {
          sessionThrottles -= 1;
          return 'item';
        }
        const counterItem = pk.startsWith(`${sessionPk}#c`) || command === 'TransactWriteItemsCommand';
        if (counterItem && performance.now() < busyUntil) {
          busyMet++;
          return kind;
        }
        return undefined;
      });
      const { pipeline, keys, store } = pipelineOn(client, table.tableName);
      const { key, keyId } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
      sessionPk = `key#${keyId}`;
      sessionThrottles = 2;
      expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      // Counter items hold leases: a few requests spend and fill.
      for (let i = 0; i < 10; i++) expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      const shards = (await store.get(sessionPk))?.shards;

      const busyMs = 300;
      const started = performance.now();
      busyUntil = started + busyMs;
      const answer = await pipeline
        .authorize(requestWith(key))
        .then((d) => (d.allow ? 'allow' : (d as { reason: string }).reason))
        .catch((error: Error) => `${error.name}: ${error.message}`);
      const elapsedMs = Math.round(performance.now() - started);
      // The next request, once the spell is over.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, busyUntil - performance.now()) + 20));
      const nextStarted = performance.now();
      const next = await pipeline
        .authorize(requestWith(key))
        .then((d) => (d.allow ? 'allow' : (d as { reason: string }).reason))
        .catch((error: Error) => `${error.name}: ${error.message}`);
      const nextMs = Math.round(performance.now() - nextStarted);
      const grown = (await store.get(sessionPk))?.shards;
      const summary = JSON.stringify({ kind, shards, answer, elapsedMs, busyMet, next, nextMs, grown });
      console.log(summary);
      expect(next, summary).toBe('allow');
      expect({ answer, withinBudget: elapsedMs < BUSY_BUDGET_MS + LAST_COUNT_MS + 500 }, summary).toEqual({
        answer: 'allow',
        withinBudget: true,
      });
    }, 15_000);
  }
});
