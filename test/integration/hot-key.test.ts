import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createAdminHandler } from '../../lambdas/admin/handler.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterItemPk, COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { startAdminServer, type RunningAdmin } from '../../local/admin-server.ts';
import { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { authorizerClient, drive } from '../support/hot-keys.ts';

/** W: write units per item per second of the simulated ceiling (reads get 3 W). */
const W = 10;

/**
 * A hot key on DynamoDB Local behind the simulated per-item ceiling (W write units a second
 * per item), counted by three authorizer instances on the client the Lambda uses (its
 * retries and timeouts): it spreads over counter items by itself, stays exact, and comes
 * back to its session item when it cools.
 */
describe('a hot key under the per-item ceiling', () => {
  let table: TestTable;
  const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W });
  /** Shared by the three instances' clocks: lets a test jump past the cooling time. */
  const offset = { ms: 0 };
  const clock = () => Date.now() + offset.ms;
  const pipelines = () => instances.map((instance) => instance.pipeline);
  let instances: ReturnType<typeof pipelineOn>[];
  /** The admin API over HTTP, on a client behind the same ceiling. */
  let admin: RunningAdmin;

  beforeAll(async () => {
    table = await createTestTable('hot-key');
    instances = Array.from({ length: 3 }, () => {
      const raw = authorizerClient(ceiling);
      return pipelineOn(raw, table.tableName, { clock });
    });
    admin = await startAdminServer({
      handler: createAdminHandler({ config: instances[0]!.config, client: instances[0]!.doc, logger: new Logger({ logLevel: 'SILENT' }) }),
      port: 0,
    });
  });
  afterAll(async () => {
    await admin.close();
    await table.drop();
  });

  const session = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as
      | StoredSession
      | undefined;

  /** `workers` loops per instance, each sending requests one after another for `ms`; every answer or fault. */
  it('spreads a key made through the admin API with nothing but a quota over counter items by itself, counts every request, and cools down', async () => {
    const created = await fetch(`${admin.url}/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ quotaMax: 1_000_000 }),
    });
    expect(created.status).toBe(201);
    const { key, keyId } = (await created.json()) as { key: string; keyId: string };
    const pk = `key#${keyId}`;
    ceiling.reset();

    const answers = await drive(pipelines(), key, 3000);
    const faults = answers.filter((a) => a instanceof Error);
    const allowed = answers.filter((a) => !(a instanceof Error) && a.allow).length;
    const hot = await session(pk);
    // Past one item's W (this test shares a loaded machine: the bench measures how far), few faults.
    expect(allowed / 3).toBeGreaterThan(W);
    // (The bench holds the share of 500s to its target; here, beside other load tests, the first second's
    // throttled writes on a starved CPU may fail a few requests closed while the key spreads.)
    const kinds = [...new Set(faults.map((f) => `${(f as Error).name}: ${(f as Error).message.slice(0, 80)}`))];
    expect(faults.length, kinds.join('; ')).toBeLessThan(answers.length * 0.1);
    expect(allowed).toBe(answers.length - faults.length);
    expect(hot?.shards).toBeGreaterThanOrEqual(4);
    // Every Allow is counted on the session item, inside a lease at most.
    expect(hot!.quotaUsed!).toBeGreaterThanOrEqual(allowed);

    // Cooled: past the cooling time, a few requests bring it back to its session item.
    // A cool key's requests come slowly (here: 4 a second, each a cooling time after the last as the clocks go).
    offset.ms += COOL_MS + 1000;
    let cooling = 0;
    for (let i = 0; i < 300 && ((await session(pk))?.shards ?? 0) > 0; i++, cooling++) {
      expect(await instances[i % 3]!.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      offset.ms += COOL_MS + 1000;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const cooled = await session(pk);
    expect(cooled?.shards).toBeUndefined();
    // Cooling gave every unspent lease back: the session item counts exactly the requests allowed.
    const used = cooled!.quotaUsed!;
    expect(used).toBe(allowed + cooling);
    // A cool key's next request, once its session item has its units back, counts there again.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await instances[1]!.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect((await session(pk))?.quotaUsed).toBe(used + 1);
  }, 60_000);

  it('never allows more than a hot key quota: every Allow is a lease spent, and the rest of each lease is still there', async () => {
    const { keys } = instances[0]!;
    const quota = 120;
    const { key, keyId } = await keys.create({ quotaMax: quota });
    const pk = `key#${keyId}`;
    ceiling.reset();
    const answers = await drive(pipelines(), key, 4000);
    const allowed = answers.filter((a) => !(a instanceof Error) && a.allow).length;
    const faults = answers.filter((a) => a instanceof Error).length;
    const hot = await session(pk);
    expect(hot?.shards).toBeGreaterThan(0);
    expect(allowed).toBeLessThanOrEqual(quota);
    // The session item counts every request leased: those allowed, and those still unspent on counter items.
    const items = await Promise.all(Array.from({ length: hot!.shards! }, (_, i) => session(counterItemPk(pk, i))));
    const unspent = items.reduce((sum, item) => {
      const lease = item as unknown as Record<string, number> | undefined;
      return sum + (lease?.quotaLease === undefined ? 0 : lease.quotaLease - lease.quotaSpent!);
    }, 0);
    expect(hot!.quotaUsed! - unspent).toBeGreaterThanOrEqual(allowed);
    expect(hot!.quotaUsed! - unspent).toBeLessThanOrEqual(allowed + faults); // a fault may have spent before it failed
    // The admin API shows what was allowed, not what was leased (explain decides on the same).
    expect((await keys.get(keyId)).quotaRemaining).toBe(quota - (hot!.quotaUsed! - unspent));
    const denied = answers.filter((a) => !(a instanceof Error) && !a.allow);
    expect(denied.every((d) => !(d instanceof Error) && !d.allow && d.reason === 'quota_exceeded')).toBe(true);
  }, 30_000);

  it('keeps the leases through a change that touches no limit or count, moved to its version; a change of a limit deletes them', async () => {
    const { keys } = instances[0]!;
    const { key, keyId } = await keys.create({ quotaMax: 100_000 });
    const pk = `key#${keyId}`;
    ceiling.reset();
    await drive(pipelines(), key, 1500);
    const shards = (await session(pk))?.shards ?? 0;
    expect(shards).toBeGreaterThan(0);
    const leases = async () => {
      const items = await Promise.all(Array.from({ length: shards }, (_, i) => session(counterItemPk(pk, i))));
      return items.flatMap((item) => {
        const lease = item as unknown as Record<string, number> | undefined;
        return lease?.quotaLease === undefined
          ? []
          : [{ version: lease.version, lease: [lease.quotaStart, lease.quotaLease, lease.quotaSpent] }];
      });
    };
    const before = await leases();
    expect(before.length).toBeGreaterThan(0);
    // Each with the versions it moves: a change that names nothing new writes nothing.
    const unchanged: [string, () => Promise<unknown>, number][] = [
      ['a PATCH of metaData', () => keys.update(keyId, { metaData: { plan: 'gold' } }), 1],
      ['a PATCH of the quota it has', () => keys.update(keyId, { quotaMax: 100_000 }), 0],
      ['a PUT of the same body', () => keys.replace(keyId, { quotaMax: 100_000, metaData: { plan: 'gold' } }), 0],
      ['a rotation', () => keys.rotate(keyId, { graceSeconds: 3600 }), 1],
      ['a deactivation', () => keys.update(keyId, { isInactive: true }), 1],
    ];
    for (const [name, change, moves] of unchanged) {
      const version = (await session(pk))!.version;
      await change();
      expect((await session(pk))!.version, name).toBe(version + moves);
      // The same leases, none spent or lost, each under the version in force.
      expect(await leases(), name).toEqual(before.map(({ lease }) => ({ version: version + moves, lease })));
    }
    await keys.update(keyId, { quotaMax: 99_999 });
    expect(await leases()).toEqual([]);
  }, 30_000);

  it('revokes every lease with a change: a reset, an update, a delete', async () => {
    const { keys } = instances[0]!;
    const { key, keyId } = await keys.create({ quotaMax: 100_000 });
    const pk = `key#${keyId}`;
    ceiling.reset();
    await drive(pipelines(), key, 1500);
    const hot = await session(pk);
    expect(hot?.shards).toBeGreaterThan(0);
    const counterItems = async () =>
      (await Promise.all(Array.from({ length: hot!.shards! }, (_, i) => session(counterItemPk(pk, i))))).filter(Boolean).length;
    expect(await counterItems()).toBeGreaterThan(0);

    await keys.update(keyId, { quotaMax: 5 });
    expect(await counterItems()).toBe(0);
    // Under the new limit, the old leases count for nothing: the used count stands, nothing more is allowed.
    const after = await Promise.all(Array.from({ length: 12 }, (_, i) => instances[i % 3]!.pipeline.authorize(requestWith(key))));
    expect(after.filter((d) => d.allow)).toHaveLength(0);

    await keys.resetQuota(keyId);
    const fresh = await Promise.all(Array.from({ length: 12 }, (_, i) => instances[i % 3]!.pipeline.authorize(requestWith(key))));
    expect(fresh.filter((d) => d.allow).length).toBeLessThanOrEqual(5);

    await keys.delete(keyId);
    expect(await session(pk)).toBeUndefined();
    expect(await counterItems()).toBe(0);
  }, 30_000);
});
