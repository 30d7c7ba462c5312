import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { readItem, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/** The TTL counter items were given before: 40 days after their last fill (a counter item now has its session's). */
const COUNTER_ITEM_TTL_SECONDS = 40 * 86_400;
/**
 * Attack30 (fail closed with room, for good): a counter item carries DynamoDB's TTL, 40 days after its last fill
 * (`COUNTER_ITEM_TTL_SECONDS`); spends do not move it. A key that was hot and then idle past that keeps its unspent
 * leases counted on its session item (they are given back only by a cooling, which needs a request, and which reads
 * the counter items: those TTL has removed give nothing back). So a quota whose window outlasts 40 days — one that
 * never renews (a trial's lifetime quota), or a quarterly one — loses every unspent lease for good: the key is denied
 * with room it never used. ARCHITECTURE.md: unspent leases "are lost only when the window ends first, or a change or
 * a policy edit revokes them" — TTL is not named, and no window ended here.
 * DynamoDB Local does not run TTL: the test deletes the counter items whose `ttl` has passed, as DynamoDB would.
 * Expected: the key serves its whole quota (100 of a lifetime quota of 100).
 */
describe('attack30: unspent leases removed by the counter items’ TTL are never given back', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a30-ttl-leases');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('a lifetime quota of 100, hot for 10 requests, then idle 41 days: 100 allowed in all', async () => {
    let nowMs = Date.now();
    const A = pipelineOn(lambdaClient(), table.tableName, { clock: () => nowMs });
    const { key, keyId } = await A.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    let allowed = 0;
    for (let i = 0; i < 10; i++) if ((await A.pipeline.authorize(requestWith(key))).allow) allowed++;
    const leased = (await readItem(table, pk))?.quotaUsed as number;
    // 41 days idle: DynamoDB's TTL removes the counter items whose time has come.
    nowMs += (COUNTER_ITEM_TTL_SECONDS + 86_400) * 1000;
    let removed = 0;
    for (let i = 0; i < 8; i++) {
      const item = await readItem(table, `${pk}#c${i}`);
      if (item !== undefined && typeof item.ttl === 'number' && item.ttl <= nowMs / 1000) {
        await table.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: `${pk}#c${i}` } }));
        removed++;
      }
    }
    const B = pipelineOn(lambdaClient(), table.tableName, { clock: () => nowMs });
    for (let i = 0; i < 150; i++) {
      if ((await B.pipeline.authorize(requestWith(key))).allow) allowed++;
      nowMs += 1000;
    }
    expect({ allowed }, JSON.stringify({ allowed, leasedBeforeIdle: leased, removed })).toEqual({ allowed: 100 });
  }, 60_000);
});
