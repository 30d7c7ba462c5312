import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack (found, fixed; cost): after a change that carries a hot key's leases, an instance that
 * remembers the key's settings decides its next request on the old version. Its spend fails,
 * and DynamoDB hands back the counter item as it is (`ReturnValuesOnConditionCheckFailure`):
 * same incarnation, a *newer* settings version — proof that the settings moved (a carry moves
 * the session item and every counter item in one transaction). The request does not stop
 * there: it tries two more counter items, then sends a fill — a transaction on the session
 * item, the one item a hot key spread away from because DynamoDB throttles it — that cannot
 * succeed (its guard names the old version), and only then decides again.
 * Observed, every change, every instance: UpdateItem ×3, TransactWriteItems (fails on the
 * version), UpdateItem — 5 requests (a transaction's failed condition is still billed, on the
 * throttled item) where 3 would do. Under a change every 100 ms (three instances, 12 workers,
 * a loaded machine) requests waited about 2 s each (p50; 22 Allows in 3 s, 52 to 200 without
 * the changes): this chase is part of it. Low severity: cost and latency, never an Allow.
 * Fixed (leases.ts): a failed spend whose counter item shows this life at a newer version
 * reads the session item and decides again at once.
 */
describe('attack9: a request decided before a carrying change chases it with a doomed fill', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('attack9-doomed-fill');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('sends no transaction that its own failed spend showed cannot succeed', async () => {
    const client = createDynamoClient(table.endpoint);
    const calls: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(String(context.commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    const instance = pipelineOn(client, table.tableName);
    const admin = pipelineOn(createDynamoClient(table.endpoint), table.tableName).keys;
    const { key, keyId } = await admin.create({ quotaMax: 10_000, quotaRenewalRate: 86_400 });
    // Two counter items: the first fill fills both (a request tries min(3, shards) before filling), so every request after
    // it spends on a counter item with room.
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 2);
    // Leases on every counter item, and the settings remembered.
    for (let i = 0; i < 40; i++) await instance.pipeline.authorize(requestWith(key));
    calls.length = 0;
    await instance.pipeline.authorize(requestWith(key));
    expect(calls).toEqual(['UpdateItem']);

    await admin.update(keyId, { metaData: { plan: 'gold' } });
    calls.length = 0;
    expect(await instance.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    console.log('after a carrying change:', calls.join(', '));
    expect(calls, calls.join(', ')).not.toContain('TransactWriteItems');
    expect(calls.length, calls.join(', ')).toBeLessThanOrEqual(3);
  }, 15_000);
});
