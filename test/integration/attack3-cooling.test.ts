import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { spreadKey } from '../support/hot-keys.ts';

/** Attacks on cooling (a key's counter items halve once its leases are spent slowly). */
describe('attack3: cooling', () => {
  let table: TestTable;
  let raw: DynamoDBClient;
  const calls: Record<string, number> = {};
  let nowMs = Date.now();
  let a: ReturnType<typeof pipelineOn>;
  let b: ReturnType<typeof pipelineOn>;

  beforeAll(async () => {
    table = await createTestTable('attack3-cool');
    raw = createDynamoClient(table.endpoint);
    raw.middlewareStack.add(
      (next, context) => async (args) => {
        calls[String(context.commandName)] = (calls[String(context.commandName)] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    a = pipelineOn(raw, table.tableName, { clock: () => nowMs });
    b = pipelineOn(createDynamoClient(table.endpoint), table.tableName, { clock: () => nowMs });
  });
  afterAll(async () => {
    raw.destroy();
    await table.drop();
  });

  const session = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as StoredSession;
  const spread = (pk: string, shards: number) => spreadKey(table.doc, table.tableName, pk, shards);
  const total = () => Object.values(calls).reduce((sum, n) => sum + n, 0);
  const zero = () => {
    for (const k of Object.keys(calls)) delete calls[k];
  };

  /**
   * A cooling does not move the session item's `filledAt`, and its request goes back to the
   * pipeline, which counts again: the next attempt finds the key "cooled" again and halves
   * again. One request took a key from 16 counter items to none (5 coolings, 41 reads, 13
   * writes and 5 transactions of up to 17 items) where one halving was due.
   */
  it('a cooled key halves once per request', async () => {
    const { key, keyId } = await a.keys.create({ quotaMax: 1_000_000, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spread(pk, 32);
    for (let i = 0; i < 200; i++) expect((await a.pipeline.authorize(requestWith(key))).allow).toBe(true);

    nowMs += COOL_MS + 1000;
    zero();
    expect((await a.pipeline.authorize(requestWith(key))).allow).toBe(true);
    expect((await session(pk)).shards).toBe(16);
    expect(total()).toBeLessThan(40);

    zero();
    expect((await a.pipeline.authorize(requestWith(key))).allow).toBe(true);
    // On the bug: no counter items left (16 → 8 → 4 → 2 → 1 → none in this one request).
    expect((await session(pk)).shards ?? 0).toBeGreaterThanOrEqual(8);
    expect(total()).toBeLessThan(40);
  });

  /**
   * The session item "last filled more than 60 s ago" is judged on this instance's hint: the
   * session item as it last saw it, however long ago. An instance that served the key a
   * minute ago cools it though another instance filled it a moment ago: it halves a key in
   * use (here: back to its session item), reading every counter item and writing all of them.
   */
  it('a key filled a moment ago by another instance is not cooled on an old hint', async () => {
    const { key, keyId } = await a.keys.create({
      quotaMax: 1_000_000,
      quotaRenewalRate: 86_400,
      accessRights: { catalog: {}, payments: { limit: { quotaMax: 1_000_000, quotaRenewalRate: 86_400 } } },
    });
    const pk = `key#${keyId}`;
    await spread(pk, 1);
    // A counts on the key (it remembers the session item as filled now).
    expect((await a.pipeline.authorize(requestWith(key, { apiId: 'catalog' }))).allow).toBe(true);
    // A reset revokes the leases; within the cooling time, B fills the counter item again.
    await a.keys.resetQuota(keyId);
    nowMs += COOL_MS - 1000;
    expect((await b.pipeline.authorize(requestWith(key, { apiId: 'catalog' }))).allow).toBe(true);
    expect((await session(pk)).filledAt).toBe(nowMs);

    // A, two seconds later, on the other scope: its spend finds no lease of that scope, so it fills.
    nowMs += 2000;
    expect((await a.pipeline.authorize(requestWith(key, { apiId: 'payments' }))).allow).toBe(true);
    // On the bug: A cooled the key on its old hint (no counter items left).
    expect((await session(pk)).shards).toBe(1);
  });
});
