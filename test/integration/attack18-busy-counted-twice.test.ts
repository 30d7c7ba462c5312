import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack: a hot key on few counter items, half of them throttled (holding leases), the other
 * half spent out, its session item without room. The rule (docs/ARCHITECTURE.md, "Throttling
 * absorbed" and "Where it under-grants"): a denial needs 3 counter items seen without room
 * (all of them if the key has fewer); fewer seen, because the others were busy, is no ground
 * for a denial — it counts again and fails closed after 1.5 s.
 *
 * The key (quota 81) is spread by B's first request, then left as a cooling and later fills
 * can leave it (written directly): 4 counter items, the whole quota leased (session item
 * quotaUsed 81); #c2 and #c3 spent to their lease, #c0 and #c1 holding 22 unspent. Instance
 * A finds #c0 and #c1 throttled on every spend. A count sees #c0/#c1 throttled and #c2/#c3
 * empty (2 seen: busy), and counts again; once all four are in its `busy` set, `pick` draws
 * from all of them, and a count that draws #c2 or #c3 a second time pushes it to `empties`
 * again: "3 seen without room" (`tooFewSeen` counts entries, not counter items) — and the
 * request is denied on the session item.
 *
 * Observed (3 of 3 runs): every request of A denied `quota_exceeded` (18-206 ms; the third
 * repeated from memory) while #c0 and #c1 hold 22 unspent; 2 distinct counter items seen
 * without room (A's writes logged: …#c2, #c3, #c3 → denial). Expected: busy (count again,
 * then fail closed), as for 2 of 4 seen. It can happen to a key on 2 or 4 counter items (as
 * cooling leaves it): a count takes up to 8 steps, and re-draws once all are busy; on 8 or
 * more, the steps run out first.
 */
describe('attack18: a hot key with half its counter items throttled, the other half spent', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a18-busy-counted-twice');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('is not denied for the quota while the throttled items hold leases', async () => {
    let sessionPk = '';
    let throttlesB = 0;
    const clientB = lambdaClient();
    throttleAttempts(clientB, (command, p) => {
      if (command !== 'UpdateItemCommand' || p !== sessionPk || throttlesB === 0) return undefined;
      throttlesB--;
      return 'item';
    });
    const b = pipelineOn(clientB, table.tableName);
    const { key, keyId } = await b.keys.create({ quotaMax: 81, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    sessionPk = pk;
    const item = async (i: number) =>
      (await b.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `${pk}#c${i}` }, ConsistentRead: true }))).Item;
    // B's first request spreads the key (its session item throttled twice) over 8 counter items (7 × 11 leased), spends 1.
    throttlesB = 2;
    expect(await b.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect(await b.store.get(pk)).toMatchObject({ shards: 8, quotaUsed: 77 });
    // The key as a cooling and later fills can leave it: 4 counter items, all of the quota leased (#c4-#c7 gone).
    await b.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk },
        UpdateExpression: 'SET shards = :four, quotaUsed = :all',
        ExpressionAttributeValues: { ':four': 4, ':all': 81 },
      }),
    );
    for (const i of [4, 5, 6, 7]) await b.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: `${pk}#c${i}` } }));
    expect((await Promise.all([0, 1, 2, 3].map(item))).every((x) => x !== undefined)).toBe(true);
    // #c2 and #c3 spent to their lease (their requests allowed elsewhere); #c0 and #c1 still hold theirs.
    for (const i of [2, 3])
      await b.doc.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: `${pk}#c${i}` },
          UpdateExpression: 'SET quotaSpent = quotaLease',
        }),
      );
    const held = (await Promise.all([0, 1].map(item))).reduce((sum, x) => sum + (x!.quotaLease as number) - (x!.quotaSpent as number), 0);

    // Instance A: #c0 and #c1 throttled (hot), #c2 and #c3 answer.
    const clientA = lambdaClient();
    throttleAttempts(clientA, (command, p) =>
      command === 'UpdateItemCommand' && (p === `${pk}#c0` || p === `${pk}#c1`) ? 'item' : undefined,
    );
    const a = pipelineOn(clientA, table.tableName);
    const answers: string[] = [];
    for (let n = 0; n < 3; n++) {
      const started = performance.now();
      const answer = await a.pipeline.authorize(requestWith(key)).then(
        (d) => (d.allow ? 'allow' : String((d as { reason?: string }).reason)),
        (error: Error) => error.name,
      );
      answers.push(`${answer} ${Math.round(performance.now() - started)} ms`);
    }
    const summary = JSON.stringify({
      held,
      answers,
      session: await b.store.get(pk).then((s) => (s as { quotaUsed?: number }).quotaUsed),
    });
    console.log(summary);
    expect(held, summary).toBeGreaterThan(10);
    expect(
      answers.filter((x) => x.startsWith('quota_exceeded')),
      summary,
    ).toEqual([]);
  }, 15_000);
});
