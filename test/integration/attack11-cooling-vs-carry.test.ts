import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { LeaseWrites } from '../../lambdas/core/store/lease-writes.ts';
import type { CounterItem } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount } from '../support/hot-account.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { concurrently, requestWith } from '../support/pipeline.ts';
import { racedAdmin } from '../support/raced-store.ts';

/** Lease writes whose cooling lets `between` run after it has read the counter items, before its transaction. */
class CoolingRaced extends LeaseWrites {
  between: (() => Promise<void>) | undefined;

  override async counterItems(session: StoredSession): Promise<(CounterItem | undefined)[]> {
    const items = await super.counterItems(session);
    const step = this.between;
    this.between = undefined;
    await step?.();
    return items;
  }
}

/**
 * Attack (held): cooling and a change that keeps the leases (a metaData PATCH: the counter
 * items move to its version) landing in each other's gap, on a hot key (4 counter items,
 * quota 20) with leases out.
 * - Cooling lands between the PATCH's read and its write: the PATCH's transaction names 4
 *   counter items where 2 are now, is rebuilt on 2, and moves nothing that cooling gave back.
 * - The PATCH lands between cooling's reads and its transaction: cooling gives nothing back
 *   (its reads are of the old version) and a later cooling gives back exactly the leases moved.
 * Observed: both orders keep the account exact (count = Allows + unspent; after a cooling
 * that lands, count = Allows), no stray lease, and the quota's end allows exactly 20.
 */
describe('attack11: cooling and a lease-keeping change in each other’s gap', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('attack11-cooling-carry');
  });
  afterAll(async () => {
    await table.drop();
  });

  async function hotKeyWithLeases(quota: number) {
    const setup = racedAdmin(table);
    const { key, keyId } = await setup.other.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(setup.env.doc, table.tableName, pk, 4);
    const first = await concurrently(6, () => setup.env.pipeline.authorize(requestWith(key)));
    return { ...setup, key, keyId, pk, allowed: allowsOf(first) };
  }

  it('cooling between a carry’s read and its write: the carry is rebuilt, the account exact (held)', async () => {
    const quota = 20;
    const { env, admin, raced, key, keyId, pk, allowed: before } = await hotKeyWithLeases(quota);
    const writes = new LeaseWrites(env.doc, table.tableName);
    let cooledNow = 'not tried';
    raced.before.push(async () => {
      cooledNow = await writes.cool(await writes.get(pk), Date.now() + 61_000);
    });
    await admin.update(keyId, { metaData: { moved: 1 } });
    const afterCarry = await hotAccount(env.doc, table.tableName, pk);
    const summary1 = JSON.stringify({ before, cooledNow, afterCarry });
    expect(cooledNow, summary1).toBe('cooled');
    expect(afterCarry.shards, summary1).toBe(2);
    expect(afterCarry.used, summary1).toBe(before + afterCarry.unspent);
    expect(afterCarry.strays, summary1).toEqual([]);

    const rest = await concurrently(30, () => env.pipeline.authorize(requestWith(key)).catch((e: Error) => e));
    const allowed = before + allowsOf(rest);
    const end = await hotAccount(env.doc, table.tableName, pk);
    const summary2 = JSON.stringify({ allowed, end });
    console.log(summary1, summary2);
    expect(allowed, summary2).toBeLessThanOrEqual(quota);
    expect(end.used, summary2).toBe(allowed + end.unspent);
    expect(end.strays, summary2).toEqual([]);
  }, 15_000);

  it('a carry between cooling’s reads and its transaction: cooling gives back nothing then, exactly the leases later (held)', async () => {
    const quota = 20;
    const { env, other, keyId, pk, allowed } = await hotKeyWithLeases(quota);
    const writes = new CoolingRaced(env.doc, table.tableName);
    writes.between = async () => {
      await other.update(keyId, { metaData: { moved: 2 } });
    };
    const first = await writes.cool(await writes.get(pk), Date.now() + 61_000);
    const mid = await hotAccount(env.doc, table.tableName, pk);
    const summary1 = JSON.stringify({ allowed, first, mid });
    expect(first, summary1).toBe('kept');
    expect(mid.shards, summary1).toBe(4);
    expect(mid.used, summary1).toBe(allowed + mid.unspent);
    expect(mid.unspent, summary1).toBeGreaterThan(0);

    const second = await writes.cool(await writes.get(pk), Date.now() + 61_000);
    const end = await hotAccount(env.doc, table.tableName, pk);
    const summary2 = JSON.stringify({ second, end });
    console.log(summary1, summary2);
    expect(second, summary2).toBe('cooled');
    expect(end.used, summary2).toBe(allowed);
    expect(end.unspent, summary2).toBe(0);
    expect(end.strays, summary2).toEqual([]);
  }, 15_000);
});
