import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * Attack on the growth check's new view (leases.ts, the `roomToGrow` branch → `newView`): a
 * request's two throttled spends on a key spread over 8 counter items "double the counter
 * items". Its growth check reads the session item (its view was older than half a second), and
 * since today that read is the request's new view: `shards` becomes the item's. When another
 * instance doubled the key meanwhile (8 → 16, on throttles of its own), the request then grows
 * FROM 16: `grow(…, shards = 16)` raises the key to 32 — a second doubling on throttles seen
 * among the first 8 items, while the 8 just added by the other instance are still empty (this
 * instance's `unfilled` memory knows only its own additions). Before, the growth was judged
 * from the request's own 8 and `raiseShards(16)` found 16 already there (no write).
 * Each needless doubling adds empty counter items (fills are session item writes; a denial
 * needs 3 items seen without room, so empty items also deny sooner), up to 64.
 *
 * Setup (deterministic): instance A spreads a key (quota 100,000 a day: room to lease) over 8
 * items, waits 0.7 s; its next request's first spend is throttled while another instance sets
 * `shards` 16, its second is throttled too. Observed (3 of 3 runs): allowed, and the key has
 * 32 counter items after the request (log: spread write, 2 throttled spends, growth write);
 * expected 16. Passes (16) with the store code from before today's change.
 */
describe('a growth judged on throttles of counter items the key has since doubled past', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a21-growth-stale');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('does not double the key again', async () => {
    const state = { pk: '', sessionThrottles: 2, spendThrottles: 0, log: [] as string[] };
    const client = lambdaClient();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
        if (command === 'UpdateItemCommand' && p === state.pk && state.sessionThrottles > 0) {
          state.sessionThrottles--;
          throw throttle('item');
        }
        if (command === 'UpdateItemCommand' && state.pk !== '' && p.startsWith(`${state.pk}#c`) && state.spendThrottles > 0) {
          state.log.push(`spend ${p.slice(state.pk.length)} throttled`);
          if (state.spendThrottles-- === 2) {
            // Meanwhile another instance, throttled twice itself, doubles the key: 8 → 16.
            await table.doc.send(
              new UpdateCommand({
                TableName: table.tableName,
                Key: { pk: state.pk },
                UpdateExpression: 'SET shards = :s',
                ExpressionAttributeValues: { ':s': 16 },
              }),
            );
            state.log.push('other instance: shards 16');
          }
          throw throttle('item');
        }
        if (command === 'UpdateItemCommand' && p === state.pk)
          state.log.push(`session item write ${JSON.stringify((args as { input?: unknown }).input).includes('shards') ? '(shards)' : ''}`);
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'staleGrowth' },
    );
    const a = pipelineOn(client, table.tableName);
    const { key, keyId } = await a.keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
    state.pk = `key#${keyId}`;
    expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    const get = async () =>
      (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: state.pk }, ConsistentRead: true })))
        .Item as StoredSession;
    expect((await get()).shards).toBe(8);
    // What A saw of the session item is no longer fresh (half a second): its growth check reads the item.
    await new Promise((resolve) => setTimeout(resolve, 700));
    state.spendThrottles = 2;
    const decision = await a.pipeline.authorize(requestWith(key));
    const after = await get();
    console.log(JSON.stringify({ decision: decision.allow, shards: after.shards, log: state.log }));
    expect(decision.allow).toBe(true);
    expect(after.shards).toBe(16);
  }, 15_000);
});
