import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { type pipelineOn, requestWith } from '../support/pipeline.ts';
import { racedAdmin, type RacedStore } from '../support/raced-store.ts';

/**
 * A key's versions go on across its lives: a delete records its life's last version and a
 * key created again under the same raw key starts above it, so no `If-Match` read in one
 * life holds in the next.
 */
describe('versions across the lives of a key', () => {
  let table: TestTable;
  let raced: RacedStore;
  let admin: KeyService;
  let other: KeyService;
  let env: ReturnType<typeof pipelineOn>;
  let n = 0;
  const rawKey = () => `key-lives-imported-key-${String(++n).padStart(4, '0')}`;

  beforeAll(async () => {
    table = await createTestTable('key-lives');
    ({ env, raced, admin, other } = racedAdmin(table));
  });
  afterAll(async () => {
    await table.drop();
  });

  it('starts a key created again above the last version of the one deleted, and refuses an If-Match of the old life', async () => {
    const key = rawKey();
    const { keyId } = await other.create({ key, quotaMax: 5, quotaRenewalRate: 3600 });
    await other.update(keyId, { metaData: { step: 1 } });
    await other.update(keyId, { metaData: { step: 2 } });
    expect((await other.get(keyId)).version).toBe(3);
    await other.delete(keyId, 3);

    const again = await other.create({ key, quotaMax: 5, quotaRenewalRate: 3600 });
    expect(again.session.version).toBe(4);
    for (let i = 0; i < 5; i++) expect(await env.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });

    // The old life's versions, re-sent: none holds on the new life, which keeps its count.
    for (const version of [1, 2, 3]) {
      await expect(other.delete(keyId, version)).rejects.toMatchObject({ name: 'VersionConflictError' });
      await expect(other.update(keyId, { quotaMax: 50 }, version)).rejects.toMatchObject({ name: 'VersionConflictError' });
      await expect(other.resetQuota(keyId, version)).rejects.toMatchObject({ name: 'VersionConflictError' });
    }
    expect(await other.get(keyId)).toMatchObject({ version: 4, quotaMax: 5, quotaRemaining: 0 });
    expect(await env.pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'quota_exceeded' });
  });

  it('a first life still starts at version 1', async () => {
    const { session } = await other.create({ key: rawKey() });
    expect(session.version).toBe(1);
  });

  it('deletes without If-Match while PATCHes land between its read and its write, recording a version above theirs', async () => {
    const key = rawKey();
    const { keyId } = await other.create({ key, quotaMax: 5 });
    raced.before = [
      async () => void (await Promise.all([1, 2, 3].map((n) => other.update(keyId, { metaData: { n } }).catch(() => undefined)))),
    ];
    await admin.delete(keyId);
    expect(raced.before).toHaveLength(0);
    await expect(other.get(keyId)).rejects.toMatchObject({ name: 'NotFoundError' });
    // It read version 1 and let the PATCHes pass: it records 1 + 1,000, and the next life starts above.
    expect((await other.create({ key })).session.version).toBe(1002);
  });

  it('refuses a delete without If-Match only when more than 1,000 changes landed after its read, then lands on the next try', async () => {
    const key = rawKey();
    const { keyId } = await other.create({ key, quotaMax: 5 });
    // As if 1,001 changes had landed between its read and its write: the version the store holds jumps.
    raced.before = [
      async () =>
        void (await table.doc.send(
          new UpdateCommand({
            TableName: table.tableName,
            Key: { pk: `key#${keyId}` },
            UpdateExpression: 'SET version = :v',
            ExpressionAttributeValues: { ':v': 1002 },
          }),
        )),
    ];
    await admin.delete(keyId);
    expect((await other.create({ key })).session.version).toBe(2003);
  });

  it('refuses a delete with If-Match when a PATCH landed between its read and its write (409, nothing deleted)', async () => {
    const key = rawKey();
    const { keyId } = await other.create({ key });
    raced.before = [async () => void (await other.update(keyId, { metaData: { late: true } }))];
    await expect(admin.delete(keyId, 1)).rejects.toMatchObject({ name: 'VersionConflictError' });
    expect(await other.get(keyId)).toMatchObject({ version: 2, metaData: { late: true } });
  });

  it('lives through many deletes and creations: each life starts above every version before it', async () => {
    const key = rawKey();
    let highest = 0;
    for (let life = 0; life < 4; life++) {
      const { keyId, session } = await other.create({ key });
      expect(session.version).toBe(highest + 1);
      for (let i = 0; i < life; i++) await other.update(keyId, { metaData: { i } });
      highest = (await other.get(keyId)).version;
      await other.delete(keyId, highest);
    }
    expect(highest).toBe(10); // 4 lives: 1, 2–3, 4–6, 7–10
  });
});
