import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { readItem, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * A counter item's TTL is its session's (docs/ARCHITECTURE.md, "How long a counter item lives"): a fill writes it,
 * and a change that keeps the leases (a PATCH of `expires` or of the metadata) sets the one that follows the key's
 * `expires` after it on every counter item — none when the key never expires. So no lease goes before its key
 * can no longer spend it (attack30), and the counter items of a key that ends by its TTL go with it.
 */
describe('counter items carry their session’s TTL', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('counter-item-ttl');
  });
  afterAll(async () => {
    await table.drop();
  });

  const ttlsOf = async (pk: string, shards: number) => {
    const items = await Promise.all(Array.from({ length: shards }, (_, i) => readItem(table, `${pk}#c${i}`)));
    return items.filter((item) => item !== undefined).map((item) => item.ttl as number | undefined);
  };

  it('filled with the session’s TTL; moved with `expires` by a change that keeps the leases; none once the key never expires', async () => {
    const nowMs = Date.now();
    const A = pipelineOn(lambdaClient(), table.tableName, { clock: () => nowMs });
    const nowS = Math.floor(nowMs / 1000);
    const { key, keyId } = await A.keys.create({ quotaMax: 100, quotaRenewalRate: 0, expires: nowS + 90 * 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    for (let i = 0; i < 10; i++) expect((await A.pipeline.authorize(requestWith(key))).allow).toBe(true);
    const session = await readItem(table, pk);
    expect(session?.ttl).toBe(nowS + 90 * 86_400 + A.config.sessionRetentionSeconds);
    const filled = await ttlsOf(pk, 8);
    expect(filled.length).toBeGreaterThan(0);
    expect(new Set(filled)).toEqual(new Set([session?.ttl]));

    // A later `expires` keeps the leases (the counter items move to the new version) and their TTL follows it.
    await A.keys.update(keyId, { expires: nowS + 200 * 86_400 });
    const later = await readItem(table, pk);
    expect(later?.ttl).toBe(nowS + 200 * 86_400 + A.config.sessionRetentionSeconds);
    const moved = await Promise.all(Array.from({ length: 8 }, (_, i) => readItem(table, `${pk}#c${i}`)));
    expect(moved.every((item) => item?.version === later?.version && item?.ttl === later?.ttl)).toBe(true);

    // The key never expires: nor do its counter items.
    await A.keys.update(keyId, { expires: 0 });
    expect((await readItem(table, pk))?.ttl).toBeUndefined();
    expect(new Set(await ttlsOf(pk, 8))).toEqual(new Set([undefined]));
  }, 60_000);

  it('a change of the metadata gives a counter item with a TTL from before (40 days after its fill) its session’s: none', async () => {
    const nowMs = Date.now();
    const A = pipelineOn(lambdaClient(), table.tableName, { clock: () => nowMs });
    const { key, keyId } = await A.keys.create({ quotaMax: 100, quotaRenewalRate: 0 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    for (let i = 0; i < 10; i++) expect((await A.pipeline.authorize(requestWith(key))).allow).toBe(true);
    expect(new Set(await ttlsOf(pk, 8))).toEqual(new Set([undefined]));
    const old = Math.floor(nowMs / 1000) + 40 * 86_400;
    for (let i = 0; i < 8; i++) {
      await table.doc.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: `${pk}#c${i}` },
          UpdateExpression: 'SET #t = :t',
          ExpressionAttributeNames: { '#t': 'ttl' },
          ExpressionAttributeValues: { ':t': old },
        }),
      );
    }
    await A.keys.update(keyId, { alias: 'renamed' });
    expect(new Set(await ttlsOf(pk, 8))).toEqual(new Set([undefined]));
  }, 60_000);
});
