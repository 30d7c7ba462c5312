import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Fixed: the growth reads the session item first when this instance's view of it is older than half a second (growth.ts, `roomToGrow`).
 *
 * Attack: attack15-grown-no-room with the growth coming from an instance whose memory of the
 * session item is not fresh. A hot key's whole quota (80) is leased out to its 8 counter items
 * by instance A. Then counter items 0-7 are item-throttled for one request of another instance:
 * (a) instance B, which has never seen the session item, (b) instance A itself, 600 ms later
 * (its memory of the session item no longer fresh). "No growth while the session item has no
 * room to lease" is judged on `planFills`, which answers 'read' (not 'no room') on a hint that
 * is absent or old — so the key grows to 16 anyway, its new counter items cannot be filled, and
 * once the throttles lift, requests that pick three empty new items are denied `quota_exceeded`
 * while counter items 0-7 still hold their leases.
 * Observed (3 runs each, both cases alike): the request meeting the throttles grew the key to 16
 * and was itself denied `quota_exceeded` with 79 of 80 leased and unspent on #c0-#c7 (its three
 * tries met new, empty counter items); of the next 12 requests (a pause past the
 * repeated-denial memory after each denial), 11 were allowed and 1 denied `quota_exceeded`.
 * Expected: no growth (as when the same instance saw the session item moments ago), the
 * throttled request allowed or failed closed — never denied for a quota with 79 left — and 12 of 12.
 */
describe('a hot key, all leased out, grown by an instance without a fresh view of its session item', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a16-grown-other');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** A client whose session item is throttled `session()` times and whose counter items 0-7 are throttled while `items()`. */
  function throttled(pk: () => string, state: { session: number; items: boolean }) {
    const client = lambdaClient();
    throttleAttempts(client, (command, key) => {
      if (command !== 'UpdateItemCommand' || pk() === '') return undefined;
      if (key === pk() && state.session > 0) {
        state.session -= 1;
        return 'item';
      }
      const index = Number(key.slice(`${pk()}#c`.length));
      if (state.items && key.startsWith(`${pk()}#c`) && index < 8) return 'item';
      return undefined;
    });
    return client;
  }

  for (const who of ['another instance', 'the same instance, 600 ms later'] as const) {
    it(`${who}: the key does not grow, and is not denied while counter items 0-7 have room`, async () => {
      let sessionPk = '';
      const stateA = { session: 0, items: false };
      const stateB = { session: 0, items: false };
      const a = pipelineOn(
        throttled(() => sessionPk, stateA),
        table.tableName,
      );
      const b =
        who === 'another instance'
          ? pipelineOn(
              throttled(() => sessionPk, stateB),
              table.tableName,
            )
          : a;
      const stateOfB = who === 'another instance' ? stateB : stateA;
      const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
      sessionPk = `key#${keyId}`;
      // A's first request finds the session item throttled: the key spreads, its quota leased out to #c0-#c7.
      stateA.session = 2;
      expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      expect(await a.store.get(sessionPk)).toMatchObject({ shards: 8, quotaUsed: 80 });
      if (b === a) await new Promise((resolve) => setTimeout(resolve, 600));

      // One request meets counter items 0-7 throttled (two throttled spends grow a key).
      stateOfB.items = true;
      const growing = await b.pipeline.authorize(requestWith(key)).catch((error: Error) => error.name);
      stateOfB.items = false;
      const grown = (await b.store.get(sessionPk))?.shards;
      const before = (await b.keys.get(keyId)).quotaRemaining;

      let allowed = 0;
      const reasons: string[] = [];
      for (let i = 0; i < 12; i++) {
        const decision = await b.pipeline.authorize(requestWith(key));
        if (decision.allow) allowed++;
        else {
          reasons.push(String((decision as { reason?: string }).reason));
          await new Promise((resolve) => setTimeout(resolve, 550)); // past the repeated-denial memory
        }
      }
      const summary = JSON.stringify({ growing, grown, before, allowed, reasons });
      console.log(who, summary);
      const deniedForQuota = typeof growing === 'object' && !growing.allow && growing.reason === 'quota_exceeded';
      expect({ deniedForQuota, grown, roomLeft: before >= 60, allowed }, summary).toEqual({
        deniedForQuota: false,
        grown: 8,
        roomLeft: true,
        allowed: 12,
      });
    }, 15_000);
  }
});
