import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack: a fill Puts the whole counter item it saw on its failed spend (the other scopes'
 * leases copied from `seen`), on condition that the item is "unchanged": the same `fills`
 * and the same `…Spent` values. Nothing on the counter item names its *life*: a cooling (or
 * a reset, which keeps the settings version) deletes every counter item, and the next fill
 * creates it again from `fills = 1`. Once requests have spent the new item as far as the old
 * one had been spent, the stale fill's condition holds again (ABA), and it writes back the
 * old lease — whose unspent part the cooling already gave back to the session item's count.
 * The old lease is spent a second time; the new lease it overwrites is counted but lost.
 *
 * Instance A's payments request (its clock 2 s behind B's, or: a request slow by 2 s) fills
 * the payments scope on counter item 0, seen before the cooling. Its transaction lands after
 * B cooled the key (2 → 1 counter items) and C filled item 0 again and spent it to the same
 * count. The session item's half of A's fill holds too: a cooling moves neither the version,
 * the incarnation nor the lease tag, and the payments window is the one A saw.
 *
 * Fixed: every fill draws its `fill` (which replaced the count `fills`) at random, so an item deleted and filled again never
 * looks as it was seen, however far it is spent (`unchangedCounterItem`).
 */
describe('attack4: a stale fill resurrects a lease a cooling or a reset took back', () => {
  let table: TestTable;
  let raw: DynamoDBClient;
  let gate: Promise<void> | undefined;
  let gated: () => void = () => {};

  beforeAll(async () => {
    table = await createTestTable('attack4-aba');
    raw = createDynamoClient(table.endpoint);
    raw.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && gate !== undefined) {
          gated();
          await gate;
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdTransactions' },
    );
  });
  afterAll(async () => {
    raw.destroy();
    await table.drop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const session = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as StoredSession;
  const spread = (pk: string, shards: number) =>
    table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk },
        UpdateExpression: 'SET shards = :s',
        ExpressionAttributeValues: { ':s': shards },
      }),
    );

  it('after a cooling, a key quota of 100 allows no more than 100', async () => {
    const t0 = Date.now();
    let nowA = t0;
    let nowB = t0;
    const a = pipelineOn(raw, table.tableName, { clock: () => nowA });
    const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName, { clock: () => nowB });
    const c = pipelineOn(createDynamoClient(table.endpoint), table.tableName, { clock: () => nowB });
    // Every request picks the highest counter item free (so the test is one history, not a dice roll).
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    const quota = 100;
    const { key, keyId } = await b.keys.create({
      quotaMax: quota,
      quotaRenewalRate: 86_400,
      accessRights: { catalog: {}, payments: { limit: { quotaMax: 1, quotaRenewalRate: 86_400 } } },
    });
    const pk = `key#${keyId}`;
    await spread(pk, 2);
    let allowed = 0;
    const catalog = async (on: ReturnType<typeof pipelineOn>) => {
      if ((await on.pipeline.authorize(requestWith(key, { apiId: 'catalog' }))).allow) allowed++;
    };

    const item = (i: number) => session(`${pk}#c${i}`) as unknown as Promise<Record<string, number> | undefined>;
    const spent = async (i: number) => (await item(i))?.quotaSpent ?? 0;
    const lease = async (i: number) => (await item(i))?.quotaLease ?? 0;

    // B at t0: counter item 1 is spent first, up to its lease; then item 0 up to 11.
    while ((await spent(0)) === 0 || (await spent(1)) < (await lease(1))) await catalog(b);
    while ((await spent(0)) < 11) await catalog(b);
    const seen = (await item(0))!;
    expect(seen.quotaSpent).toBe(11);
    expect(allowed).toBe((await spent(1)) + 11);

    // A, 59 s after t0, on payments: its spends find no payments lease on items 1 and 0; it fills item 0 (held).
    nowA = t0 + COOL_MS - 1000;
    let release: () => void = () => {};
    gate = new Promise((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (gated = resolve));
    const payments = a.pipeline.authorize(requestWith(key, { apiId: 'payments' }));
    await reached;
    gate = undefined;

    // B, 61 s after t0: its spend on item 0 finds the key cooled; it halves to one counter item, item 0's unspent given back.
    nowB = t0 + COOL_MS + 1000;
    await catalog(b);
    expect((await session(pk)).shards).toBe(1);
    // C fills item 0 again (a lease of what is left, less than A saw) and spends it up to 11: item 0 looks as A saw it, but
    // for its fill.
    while ((await spent(0)) < 11) await catalog(c);
    expect(await spent(0)).toBe(11);
    expect(await lease(0)).toBeLessThan(seen.quotaLease!);

    release();
    expect((await payments).allow).toBe(true);
    for (let i = 0; i < 60; i++) await catalog(c);
    // On the bug: over 100 (A's fill wrote back the lease it saw, spent 11, whose rest the cooling had given back; C's lease lost).
    expect(allowed).toBeLessThanOrEqual(quota);
  }, 30_000);

  /**
   * The same with a reset, which keeps the settings version and touches no rate window: A's
   * fill of the payments rate (a per-API limit) is planned before the reset and lands after
   * it, once item 0 is filled again and spent as far. It writes back the pre-reset key quota
   * lease: its unspent part was wiped by the reset (the new window's count never had it), and
   * is spent again in the new window. The key grew to 4 counter items meanwhile, so the
   * lease it overwrites is smaller than the one it resurrects.
   *
   * A reset now moves the settings version, so the stale fill's session half fails on the
   * version before its counter item is compared: this case holds by the version as well as
   * by the fill's draw (with the draw made constant, only the cooling case above fails).
   */
  it('after a reset, a key quota of 100 allows no more than 100 in the new window', async () => {
    const a = pipelineOn(raw, table.tableName);
    const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const c = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    let r = 0.99;
    vi.spyOn(Math, 'random').mockImplementation(() => r);
    const quota = 100;
    const { key, keyId } = await b.keys.create({
      quotaMax: quota,
      quotaRenewalRate: 86_400,
      accessRights: { catalog: {}, payments: { limit: { rate: 1, per: 60 } } },
    });
    const pk = `key#${keyId}`;
    await spread(pk, 1);
    let allowed = 0;
    const catalog = async (on: ReturnType<typeof pipelineOn>) => {
      if ((await on.pipeline.authorize(requestWith(key, { apiId: 'catalog' }))).allow) allowed++;
    };
    const item = (i: number) => session(`${pk}#c${i}`) as unknown as Promise<Record<string, number> | undefined>;
    const spent = async (i: number) => (await item(i))?.quotaSpent ?? 0;
    const lease = async (i: number) => (await item(i))?.quotaLease ?? 0;

    // Before the reset: the one counter item filled once (a lease of the whole quota), spent up to 3.
    while ((await spent(0)) < 3) await catalog(b);
    const seen = (await item(0))!;
    expect([seen.quotaLease, seen.quotaSpent]).toEqual([100, 3]);

    // A's payments request: no payments lease on item 0; it fills it (held).
    let release: () => void = () => {};
    gate = new Promise((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (gated = resolve));
    const payments = a.pipeline.authorize(requestWith(key, { apiId: 'payments' }));
    await reached;
    gate = undefined;

    // The reset revokes every lease; the key grows to 4 counter items (its session item throttled).
    await b.keys.resetQuota(keyId);
    await spread(pk, 4);
    allowed = 0;
    // C fills the counter items again (a quarter of the quota each, at most), item 0 first (each request picks the lowest
    // counter item free); item 0 spent up to 3, as A saw it, but for its fill.
    r = 0;
    while ((await item(0)) === undefined) await catalog(c);
    while ((await spent(0)) < 3) await catalog(c);
    expect(await spent(0)).toBe(3);
    expect(await lease(0)).toBeLessThanOrEqual(25);

    release();
    expect((await payments).allow).toBe(true);
    for (let i = 0; i < 200; i++) await catalog(c);
    // On the bug: 175 (the pre-reset lease of 100, spent 3, spent again in the new window; C's lease on item 0 lost).
    expect(allowed).toBeLessThanOrEqual(quota);
  }, 30_000);
});
