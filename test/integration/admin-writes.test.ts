/**
 * What an admin write changes, on DynamoDB Local: a PATCH writes the fields it names and
 * nothing else, and never overwrites a write that landed after its read. A store that runs
 * another writer right after the PATCH's read plays the race a real admin API meets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { VersionConflictError } from '../../lambdas/core/model/errors.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { NOW, NOW_MS } from '../support/fixtures.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/** A store that runs `afterNextRead` once, right after its next read has returned from DynamoDB. */
class RacingStore extends SessionStore {
  afterNextRead: (() => Promise<unknown>) | undefined;

  override async get(pk: string): Promise<StoredSession | undefined> {
    const item = await super.get(pk);
    const race = this.afterNextRead;
    this.afterNextRead = undefined;
    await race?.();
    return item;
  }
}

let table: TestTable;

beforeAll(async () => {
  table = await createTestTable('admin-writes');
});
afterAll(async () => {
  await table?.drop();
});

/** A key service whose reads can be raced, next to an unraced pipeline and key service on the same table. */
function setUp() {
  const { pipeline, keys, doc } = pipelineOn(table.client, table.tableName, { clock: () => NOW_MS });
  const racing = new RacingStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
  return { pipeline, keys, racing, raced: new KeyService(racing, () => NOW) };
}

describe('PATCH /keys/{keyId} on DynamoDB Local', () => {
  it('writes only the fields it names: a request counted between its read and its write stays counted', async () => {
    const { pipeline, keys, racing, raced } = setUp();
    const { key, keyId } = await keys.create({ alias: 'before', quotaMax: 10, quotaRenewalRate: 3600, tags: ['t'] });
    racing.afterNextRead = () => pipeline.authorize(requestWith(key));

    const patched = await raced.update(keyId, { alias: 'after' });

    expect(patched).toMatchObject({ alias: 'after', quotaMax: 10, tags: ['t'], quotaRemaining: 9, version: 2 });
    expect(await keys.get(keyId)).toMatchObject({ alias: 'after', quotaRemaining: 9 });
  });

  it('without If-Match, fails with a version conflict rather than overwrite a settings write made after its read', async () => {
    const { keys, racing, raced } = setUp();
    const { keyId } = await keys.create({ alias: 'before' });
    racing.afterNextRead = () => keys.update(keyId, { alias: 'theirs', rate: 5, per: 60 });

    const patch = raced.update(keyId, { alias: 'mine', rate: 0 });

    await expect(patch).rejects.toBeInstanceOf(VersionConflictError);
    expect(await keys.get(keyId)).toMatchObject({ alias: 'theirs', rate: 5, per: 60, version: 2 });
  });

  it('removes, sets and guards in one write that DynamoDB accepts (every name and value it sends is used)', async () => {
    const { keys } = setUp();
    const { keyId } = await keys.create({ alias: 'old', expires: NOW + 100, quotaMax: 10 });

    const patched = await keys.update(keyId, { alias: null, expires: 0, quotaMax: 5 }, 1);

    expect(patched).toMatchObject({ expires: 0, quotaMax: 5, version: 2 });
    expect(patched).not.toHaveProperty('alias');
    expect(await keys.get(keyId)).not.toHaveProperty('alias');
  });
});
