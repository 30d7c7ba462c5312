import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { type pipelineOn, requestWith } from '../support/pipeline.ts';
import { racedAdmin, type RacedStore } from '../support/raced-store.ts';

/**
 * Attacks (held): unconditional admin writes now retry on the item their conflict returned,
 * with no read between. Each test lands another writer's change between the admin write's
 * read and its write (and again before each retry where armed):
 * - a DELETE while a rotation lands: the retry deletes the rotated-in key's pointer too
 *   (observed: the new key is refused `key_not_found`, its id 404);
 * - a PATCH while a rotation lands, and a rotation while a PATCH lands: 409, the other
 *   change kept (keyIds are settings: observed 409 both ways, nothing overwritten);
 * - a DELETE while a PATCH, a reset and a PATCH land one after another (three retries): it
 *   lands, and records the last of them (observed: next life at version 5).
 */
describe('attack12 (held): unconditional writes retried on the conflict item', () => {
  let table: TestTable;
  let raced: RacedStore;
  let admin: KeyService;
  let other: KeyService;
  let env: ReturnType<typeof pipelineOn>;
  let n = 0;
  const rawKey = () => `attack12-unconditional-${String(++n).padStart(4, '0')}`;

  beforeAll(async () => {
    table = await createTestTable('attack12-unconditional');
    ({ env, raced, admin, other } = racedAdmin(table));
  });
  afterAll(async () => {
    await table.drop();
  });

  it('a DELETE that a rotation lands under deletes the rotated-in key too', async () => {
    const { key, keyId } = await other.create({ key: rawKey(), quotaMax: 10 });
    let rotatedKey = '';
    let rotatedId = '';
    raced.before = [
      async () => {
        ({ key: rotatedKey, keyId: rotatedId } = await other.rotate(keyId, { graceSeconds: 3600 }));
      },
    ];
    await admin.delete(keyId);
    expect(raced.before).toHaveLength(0);
    await expect(other.get(rotatedId)).rejects.toMatchObject({ name: 'NotFoundError' });
    expect(await env.pipeline.authorize(requestWith(rotatedKey))).toMatchObject({ allow: false, reason: 'key_not_found' });
    expect(await env.pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'key_not_found' });
  });

  it('a PATCH that a rotation lands under answers 409 and keeps the rotation', async () => {
    const { keyId } = await other.create({ key: rawKey(), quotaMax: 10 });
    let rotatedKey = '';
    raced.before = [async () => void ({ key: rotatedKey } = await other.rotate(keyId, { graceSeconds: 3600 }))];
    await expect(admin.update(keyId, { quotaMax: 20 })).rejects.toMatchObject({ name: 'VersionConflictError' });
    expect(await other.get(keyId)).toMatchObject({ version: 2, quotaMax: 10 });
    expect(await env.pipeline.authorize(requestWith(rotatedKey))).toMatchObject({ allow: true });
  });

  it('a rotation that a PATCH lands under answers 409 and keeps the PATCH', async () => {
    const { keyId } = await other.create({ key: rawKey(), quotaMax: 10 });
    raced.before = [async () => void (await other.update(keyId, { quotaMax: 30 }))];
    await expect(admin.rotate(keyId, {})).rejects.toMatchObject({ name: 'VersionConflictError' });
    expect(await other.get(keyId)).toMatchObject({ version: 2, quotaMax: 30 });
  });

  it('a DELETE that three changes land under, one before each try, lands and records the last version', async () => {
    const key = rawKey();
    const { keyId } = await other.create({ key, quotaMax: 10 });
    raced.before = [
      async () => void (await other.update(keyId, { metaData: { a: 1 } })),
      async () => void (await other.resetQuota(keyId)),
      async () => void (await other.update(keyId, { metaData: { a: 2 } })),
    ];
    await admin.delete(keyId);
    // The three changes land before its one write, which lets them pass: it records the version it read (1) + 1,000.
    expect(raced.before).toHaveLength(2);
    raced.before = [];
    expect((await other.create({ key })).session.version).toBe(1002);
  });
});
