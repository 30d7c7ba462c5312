import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack: a hot key whose whole quota (80) is leased out to its 8 counter items; one of them
 * (#c3) has been spent down, the other 7 still hold 70. A request then meets a table throttle
 * on those 7 (7 busy steps) and #c3 without room (1 step). Seven busy steps say nothing of the
 * room left, as eight would not — yet since only steps that *all* met busy items count as
 * "busy", the request is denied on the session item (quota used 80 of 80), and the next
 * requests by the repeated-denial memory.
 * Observed (2 runs): 11 allowed spending #c3 down, then the request that met 7 throttles and #c3
 * is denied `quota_exceeded` with 70 leased and unspent; expected: it counts again and is allowed.
 */
describe('a hot key with one counter item spent down and the others busy', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a15-busy-one-empty');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('counts again rather than deny while the busy counter items have room', async () => {
    const client = lambdaClient();
    let sessionPk = '';
    let sessionThrottles = 0;
    /** Table throttles of counter items other than #c3: Infinity while #c3 is spent down, then a budget. */
    let busy = 0;
    let busyMet = 0;
    throttleAttempts(client, (command, pk) => {
      if (command !== 'UpdateItemCommand') return undefined;
      if (pk === sessionPk && sessionThrottles > 0) {
        sessionThrottles -= 1;
        return 'item';
      }
      if (pk.startsWith(`${sessionPk}#c`) && pk !== `${sessionPk}#c3` && busy > 0) {
        busy -= 1;
        busyMet += 1;
        return 'table';
      }
      return undefined;
    });
    const { pipeline, keys, store } = pipelineOn(client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    sessionThrottles = 2;
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    const session = await store.get(sessionPk);
    expect({ shards: session?.shards, quotaUsed: session?.quotaUsed }).toEqual({ shards: 8, quotaUsed: 80 });

    // Spend #c3 down (its 10): every other counter item answers throttled meanwhile.
    busy = Number.POSITIVE_INFINITY;
    let allowed = 1;
    for (let i = 0; i < 10; i++) {
      const decision = await pipeline.authorize(requestWith(key)).catch(() => undefined);
      // #c3 used up early (the first request may have been counted on it): with every other item busy, it fails closed.
      if (decision === undefined) break;
      if (decision.allow) allowed++;
    }
    const spentDown = allowed;
    expect([10, 11]).toContain(spentDown);

    // Now 7 throttles (one per other counter item), then none.
    busy = 7;
    busyMet = 0;
    const underThrottle = await pipeline.authorize(requestWith(key));
    const observed = { spentDown, busyMet, underThrottle: underThrottle.allow ? 'allow' : (underThrottle as { reason?: string }).reason };
    expect(observed).toEqual({ spentDown, busyMet: 7, underThrottle: 'allow' });
    if (underThrottle.allow) allowed++;
    for (let i = 0; i < 5; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
    expect((await keys.get(keyId)).quotaRemaining).toBe(80 - allowed);
    expect(allowed).toBe(spentDown + 6);
  });
});
