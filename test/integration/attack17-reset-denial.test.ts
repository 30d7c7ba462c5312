import type { KeyService } from '../../lambdas/admin/key-service.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Fixed: a spend that finds a counter item missing takes the session item as last seen for
 * stale (not enough to deny on): the count reads it, and decides on it.
 *
 * Attack: a reset of a hot key that was never used up. A key (quota 80 a day) is spread by
 * instance A's first request (its session item throttled twice): the first fill leases the
 * whole quota out to counter items #c0-#c7, 1 request spent, 79 held. An admin resets the
 * quota (it revokes the leases: the session item has quotaUsed 0 at version 2, counter
 * items deleted). Then instance A — the one that leased the quota out — gets requests.
 * Observed (3 runs): A's first request after the reset's answer is denied `quota_exceeded`
 * although the session item has 80 of 80 left (and the key had 79 left before the reset),
 * and the denial is repeated: 29-46 requests (10 ms apart) denied for 0.63-0.96 s before the
 * first allow. An instance that never saw the key (B) is allowed at once. The reset, which
 * only gives quota back, makes a key that was never used up deny (attack7's one-second bound
 * is for a key used up when reset: this one was not). Probably: A decides on the item it
 * remembers (version 1), so the count's guard is version 1, and its memory of its own last
 * fill (80 of 80 leased, version 1, under 500 ms old) is "fresh" for that guard: the count
 * answers `noRoom` on it, and the pipeline denies on that as the store's (current) word.
 * Confirmed by timing: with 600 ms between A's fill and the change, A is allowed at once (1
 * run of each case). On a hot key an instance fills all the time, so a change lands within
 * half a second of some instance's fill as a rule. The same after a PATCH raising the quota to 160 (the leases revoked,
 * 80 of 160 left): 41-45 requests denied for 0.65-0.77 s (6 runs); and after a DELETE and
 * an import of the same raw key (a new life, 80 of 80): 45 denied for 0.60-0.61 s (3 runs) —
 * a denial decided on the old life. Expected: allowed at once (as B is) — never a quota
 * denial on a key with room on its session item.
 */
describe('attack17: a hot key given room again (never used up), on the instance that leased it out', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a17-reset-denial');
  });
  afterAll(async () => {
    await table.drop();
  });

  const changes = {
    'a reset': (keys: KeyService, keyId: string) => keys.resetQuota(keyId),
    'a quota raised to 160': (keys: KeyService, keyId: string) => keys.update(keyId, { quotaMax: 160 }),
    'a delete and an import again': async (keys: KeyService, keyId: string, key: string) => {
      await keys.delete(keyId);
      await keys.create({ key, quotaMax: 80, quotaRenewalRate: 86_400 });
    },
  };
  for (const [name, change] of Object.entries(changes))
    it(`allows the next request after ${name}`, async () => {
      let sessionPk = '';
      let sessionThrottles = 0;
      const client = lambdaClient();
      throttleAttempts(client, (command, pk) => {
        if (command !== 'UpdateItemCommand' || pk !== sessionPk || sessionThrottles === 0) return undefined;
        sessionThrottles--;
        return 'item';
      });
      const a = pipelineOn(client, table.tableName);
      const b = pipelineOn(lambdaClient(), table.tableName);
      const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
      sessionPk = `key#${keyId}`;
      sessionThrottles = 2;
      expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      expect(await a.store.get(sessionPk)).toMatchObject({ shards: 8, quotaUsed: 80 });
      expect((await a.keys.get(keyId)).quotaRemaining).toBe(79);

      await change(a.keys, keyId, key);
      // The leases revoked: room on the session item again (80 of 80, or 80 of 160).
      expect(await a.store.get(sessionPk)).toMatchObject({ quotaUsed: name === 'a quota raised to 160' ? 80 : 0 });
      const answers: string[] = [];
      const started = performance.now();
      while (performance.now() - started < 2000 && !answers.includes('allow')) {
        const decision = await a.pipeline.authorize(requestWith(key));
        answers.push(decision.allow ? 'allow' : String((decision as { reason?: string }).reason));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const deniedMs = Math.round(performance.now() - started);
      const fresh = await b.pipeline.authorize(requestWith(key));
      const summary = JSON.stringify({
        answers: answers.length,
        denied: answers.filter((x) => x !== 'allow').length,
        deniedMs,
        first: answers[0],
      });
      console.log(summary);
      expect(fresh, summary).toMatchObject({ allow: true });
      expect(answers[0], summary).toBe('allow');
    }, 15_000);
});
