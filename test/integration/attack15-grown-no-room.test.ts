import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack (held; one instance): a hot key whose quota (80) is all leased out to its 8 counter
 * items meets item throttles on them. Growing it then adds counter items that cannot be
 * filled (the session item has no room): would later picks of them deny at once on the
 * session item while counter items 0-7 hold their leases?
 * Observed at first (3 runs): it grew to 16; the request meeting the throttles was denied
 * `quota_exceeded` (79 left); after them, 10 of 10 allowed, spending only on #c0-#c7. Once a
 * decision meeting busy items counts again instead of being denied, the key grew again in the
 * same request (to 32), and 2 of the next 10 were denied, their 3 tries all on empty new items.
 * Now a key whose session item was just seen with no room to lease does not grow: it stays at
 * 8, the throttled request fails closed, and the next 10 are allowed.
 */
describe('a hot key grown while its quota is all leased out', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a15-grown-no-room');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('is not denied, once the throttles lift, while its older counter items have room', async () => {
    const client = lambdaClient();
    let sessionPk = '';
    let sessionThrottles = 0;
    let itemThrottles = false;
    const sent: string[] = [];
    throttleAttempts(client, (command, pk) => {
      sent.push(`${command.replace('Command', '')}:${pk.slice(sessionPk.length) || 's'}`);
      if (command !== 'UpdateItemCommand') return undefined;
      if (pk === sessionPk && sessionThrottles > 0) {
        sessionThrottles -= 1;
        return 'item';
      }
      const index = Number(pk.slice(`${sessionPk}#c`.length));
      if (itemThrottles && pk.startsWith(`${sessionPk}#c`) && index < 8) return 'item';
      return undefined;
    });
    const { pipeline, keys, store } = pipelineOn(client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    sessionThrottles = 2;
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect((await store.get(sessionPk))?.quotaUsed).toBe(80);

    // Counter items 0-7 throttled for one request: two throttled spends grow the key.
    itemThrottles = true;
    const growing = await pipeline.authorize(requestWith(key)).catch((error: Error) => error.name);
    const exist = await Promise.all(Array.from({ length: 16 }, async (_, i) => (await store.get(`${sessionPk}#c${i}`)) !== undefined));
    expect({ growing: typeof growing === 'object' && growing.allow, exist: exist.map(Number).join('') }).toEqual({
      growing: false,
      exist: '1111111100000000',
    });
    itemThrottles = false;
    const grown = (await store.get(sessionPk))?.shards;
    await new Promise((resolve) => setTimeout(resolve, 600));
    const before = (await keys.get(keyId)).quotaRemaining;

    sent.length = 0;
    let allowed = 0;
    const reasons: string[] = [];
    for (let i = 0; i < 10; i++) {
      const decision = await pipeline.authorize(requestWith(key));
      if (decision.allow) allowed++;
      else {
        reasons.push(String((decision as { reason?: string }).reason));
        await new Promise((resolve) => setTimeout(resolve, 600)); // past the repeated-denial memory
      }
    }
    console.log({ grown, before, allowed, reasons, sent: sent.join(' ') });
    expect(sent.filter((s) => /#c([89]|1\d)$/.test(s))).toEqual([]);
    expect({ grown, roomLeft: before >= 60, allowed }).toEqual({ grown: 8, roomLeft: true, allowed: 10 });
  }, 15_000);
});
