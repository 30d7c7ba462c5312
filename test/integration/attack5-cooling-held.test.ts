import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack (held): a cooling reads the session item and every counter item, and gives the
 * unspent leases back to the count in one transaction conditioned on what it read: the
 * session's `filledAt`, version, incarnation, `shards` and each `…Used` it changes, and each
 * counter item unchanged. A reset keeps the incarnation, `shards` and `filledAt` (and, when
 * this attack was written, the version: a reset now moves it, which refuses the cooling too);
 * it zeroes the count and deletes the counter items, which are then filled again. Instance A's
 * cooling (its clock past the cooling time) is held across a reset and the new window's fills
 * up to the count A read, by an instance whose clock stands at the old last fill: the `…Used`
 * value and `filledAt` come back, and only the counter items tell. Were it to land, it
 * would give the old window's unspent leases back to the new window's count. It must not: the
 * new window allows no more than the quota.
 */
describe('attack5: a cooling held across a reset', () => {
  let table: TestTable;
  let raw: DynamoDBClient;
  let gate: Promise<void> | undefined;
  let gated: () => void = () => {};

  beforeAll(async () => {
    table = await createTestTable('attack5-cooling');
    raw = createDynamoClient(table.endpoint);
    raw.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && gate !== undefined) {
          const waiting = gate;
          gate = undefined;
          gated();
          await waiting;
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdCooling' },
    );
  });
  afterAll(async () => {
    raw.destroy();
    await table.drop();
  });

  const session = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as StoredSession;

  it('gives nothing back to the window a reset opened', async () => {
    const offset = { ms: 0 };
    const a = pipelineOn(raw, table.tableName, { clock: () => Date.now() + offset.ms });
    const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    // C's clock stands still at the old window's last fill: its fills write the same `filledAt` back.
    let stopped = 0;
    const c = pipelineOn(createDynamoClient(table.endpoint), table.tableName, { clock: () => stopped });
    const quota = 100;
    const { key, keyId } = await b.keys.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 2);
    // The old window: both counter items filled (a lease of 50 each), a few spent; A knows the key.
    while ((await session(`${pk}#c0`)) === undefined || (await session(`${pk}#c1`)) === undefined)
      await b.pipeline.authorize(requestWith(key));
    await a.pipeline.authorize(requestWith(key));
    const read = await session(pk);
    expect(read.quotaUsed).toBe(100);
    stopped = read.filledAt!;

    // A, past the cooling time: its spend lands, and it cools the key (held: 2 → 1 counter items, the unspent given back).
    offset.ms = COOL_MS + 1000;
    let release: () => void = () => {};
    gate = new Promise((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (gated = resolve));
    const pending = a.pipeline.authorize(requestWith(key));
    await reached;

    // The reset: a new window; C fills both counter items again and spends up to the count A read.
    await b.keys.resetQuota(keyId);
    let allowed = 0;
    while ((await session(pk)).quotaUsed! < read.quotaUsed! || (await session(`${pk}#c1`)) === undefined)
      if ((await c.pipeline.authorize(requestWith(key))).allow) allowed++;
    // The session item is as A's cooling read it (count, filledAt, incarnation, shards) but for the version the reset moved; the counter items differ.
    const now = await session(pk);
    expect([now.quotaUsed, now.filledAt, now.version, now.incarnation, now.shards]).toEqual([
      read.quotaUsed,
      read.filledAt,
      read.version! + 1,
      read.incarnation,
      read.shards,
    ]);

    release();
    await pending;
    expect((await session(pk)).shards).toBe(2);
    for (let i = 0; i < 150; i++) if ((await c.pipeline.authorize(requestWith(key))).allow) allowed++;
    expect(allowed).toBeLessThanOrEqual(quota);
  }, 20_000);
});
