import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { LeaseWrites } from '../../lambdas/core/store/lease-writes.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack: evidence for a denial taken from counter items the key no longer has. Instance B
 * remembers a hot key spread over 8 counter items; the key cools to 4 (#c4-#c7 deleted, no
 * longer in use) and is leased out again. B's request counts with `shards` 8. Two throttled
 * spends make it judge a growth on the session item read now (`roomToGrow`): that read
 * becomes the request's view (`leases.ts:101-102`) — but `shards` stays 8 (only `newView`
 * takes the session item's `shards`). The request then takes #c4, beyond the key's 4 counter
 * items, found missing, as a third counter item "without room"; the re-read of the missing-item
 * rule finds the session item unchanged, and B is denied `quota_exceeded`.
 *
 * Setup (deterministic: counter items are drawn lowest first, `Math.random` held at 0 during
 * the counts): quota 80 a day, cooled from 8 counter items to 4 and leased again (80 of 80):
 * #c0 and #c1 hold 3 unspent each (throttled on B: hot elsewhere), #c2 spent, #c3 missing. With
 * the key's 4 counter items, B would have 2 items seen without room and the other 2 busy:
 * counted again, never denied. Observed (5 of 5 runs): B denied `quota_exceeded` (retry after
 * a day) on the evidence #c2, #c3, #c4, with 6 requests unspent on #c0/#c1 (log: spend #c0,
 * #c1 throttled, read, spend #c2, #c3, #c4, read, denial); with B's draws left random, denied in
 * 5 of 6 runs (the sixth failed closed). With `shards` taken from the growth
 * check's read, the same request counts again until its budget ends (ContentionError). Expected: the
 * request counts on the counter items of the session item it views (an Allow, or a fail-closed
 * 500 while #c0/#c1 stay throttled), never a denial on items beyond `shards`.
 * Fixed: the growth check's read is a new view (its `shards` drawn from), and only counter
 * items the view names are evidence against it (`Empties.enough`).
 */
describe('attack20: a count whose view shows fewer counter items than it draws from', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a20-cooled-shards');
  });
  afterAll(async () => {
    await table.drop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is not denied on counter items beyond the key’s shards', async () => {
    let sessionPk = '';
    let throttlesA = 0;
    const clientA = lambdaClient();
    throttleAttempts(clientA, (command, p) => {
      if (command !== 'UpdateItemCommand' || p !== sessionPk || throttlesA === 0) return undefined;
      throttlesA--;
      return 'item';
    });
    const a = pipelineOn(clientA, table.tableName);
    const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    sessionPk = pk;
    const get = async (p: string) =>
      (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: p }, ConsistentRead: true }))).Item;
    const spendOut = (i: number) =>
      table.doc.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: `${pk}#c${i}` },
          UpdateExpression: 'SET quotaSpent = quotaLease',
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
    // A spreads the key over 8 counter items and leases the whole quota to them (10 each).
    throttlesA = 2;
    expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect(await a.store.get(pk)).toMatchObject({ shards: 8, quotaUsed: 80 });

    // Instance B counts once on the spread key: it remembers the key with 8 counter items.
    const log: string[] = [];
    let attacking = false;
    const clientB = lambdaClient();
    throttleAttempts(clientB, (command, p) => {
      if (!attacking || command !== 'UpdateItemCommand' || !p.startsWith(`${pk}#c`)) return undefined;
      const index = p.slice(pk.length);
      log.push(`spend ${index}`);
      // #c0 and #c1 are hot elsewhere: throttled for B.
      return index === '#c0' || index === '#c1' ? 'item' : undefined;
    });
    clientB.middlewareStack.add(
      (next, context) => async (args) => {
        const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
        if (attacking && context.commandName === 'GetItemCommand' && p === pk) log.push('read session item');
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'logReads' },
    );
    const b = pipelineOn(clientB, table.tableName);
    expect(await b.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });

    // #c0-#c6 spent out elsewhere; the key cools (a minute later): #c7's unspent lease back, 4 counter items, all deleted.
    for (let i = 0; i < 7; i++) await spendOut(i);
    const cooled = await new LeaseWrites(table.doc, table.tableName).cool((await a.store.get(pk))!, Date.now() + COOL_MS + 1000);
    expect(cooled).toBe('cooled');
    expect(await a.store.get(pk)).toMatchObject({ shards: 4 });

    // Counter items drawn lowest first from here on.
    vi.spyOn(Math, 'random').mockReturnValue(0);
    // A new instance C leases the room again: #c0, #c1, #c2 filled (3 each), C spent on #c2.
    const c = pipelineOn(lambdaClient(), table.tableName);
    expect(await c.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    // #c2 spent out; the key's last request of room counted on its session item (80 of 80).
    await spendOut(2);
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk },
        UpdateExpression: 'SET quotaUsed = :q',
        ExpressionAttributeValues: { ':q': 80 },
      }),
    );
    const items = await Promise.all([0, 1, 2, 3, 4].map((i) => get(`${pk}#c${i}`)));
    const unspent = items.map((item) => (item === undefined ? 'missing' : (item.quotaLease as number) - (item.quotaSpent as number)));

    attacking = true;
    const decision = await b.pipeline.authorize(requestWith(key)).catch((error: Error) => error);
    attacking = false;
    const after = (await get(pk)) as StoredSession;
    const summary = JSON.stringify({
      unspent,
      decision: decision instanceof Error ? decision.name : decision.allow ? 'allow' : decision,
      session: { quotaUsed: after.quotaUsed, shards: after.shards },
      log,
    });
    console.log(summary);
    expect(unspent.slice(0, 2), summary).toEqual([3, 3]);
    if (decision instanceof Error) expect(decision.name, summary).toBe('ContentionError');
    else expect(decision.allow, summary).toBe(true);
  }, 15_000);
});
