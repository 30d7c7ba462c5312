import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { type pipelineOn, requestWith } from '../support/pipeline.ts';
import { racedAdmin, type RacedStore } from '../support/raced-store.ts';

/**
 * Attack: a PATCH/PUT/rotation without If-Match is read again when the change that beat it
 * left the settings equal (`sameSettings`: the fields of `SessionFieldsSchema` but the
 * counters, plus `keyIds` and `incarnation`). What a stored session holds beyond that schema
 * — the keys rotated in, the life of the key, an admin's explicit counters — must not be
 * overwritten by a write that never saw it. All held.
 */
describe('attack8: unconditional writes vs. changes of fields the schema does not name', () => {
  let table: TestTable;
  let raced: RacedStore;
  let admin: KeyService;
  let other: KeyService;
  let env: ReturnType<typeof pipelineOn>;

  beforeAll(async () => {
    table = await createTestTable('attack8-unnamed-settings');
    ({ env, raced, admin, other } = racedAdmin(table));
  });
  afterAll(async () => {
    await table.drop();
  });

  it('a PATCH without If-Match read before a rotation does not undo the rotation (held)', async () => {
    const { key, keyId } = await other.create({ quotaMax: 10 });
    let rotatedKey = '';
    raced.before = [async () => void (rotatedKey = (await other.rotate(keyId, { graceSeconds: 0 })).key)];
    const outcome = await admin.update(keyId, { metaData: { t: 'a' } }).then(
      () => 'ok',
      (error: Error) => error.name,
    );
    expect(outcome).toBe('VersionConflictError');
    expect(await env.pipeline.authorize(requestWith(rotatedKey))).toMatchObject({ allow: true });
    expect(await env.pipeline.authorize(requestWith(key))).toMatchObject({ allow: false });
  });

  it('a PUT without If-Match read before a delete and re-create never lands on the new key (held)', async () => {
    const imported = `attack8-imported-key-${Date.now()}-abcdefghijklmnop`;
    const { keyId } = await other.create({ key: imported, quotaMax: 10, metaData: { life: 1 } });
    raced.before = [
      async () => {
        await other.delete(keyId);
        await other.create({ key: imported, quotaMax: 5, metaData: { life: 2 } });
      },
    ];
    const outcome = await admin.replace(keyId, { quotaMax: 1000, metaData: { life: 1 } }).then(
      () => 'ok',
      (error: Error) => error.name,
    );
    expect(outcome).not.toBe('ok');
    expect(await other.get(keyId)).toMatchObject({ quotaMax: 5, metaData: { life: 2 } });
  });

  it("a PATCH without If-Match naming no counters keeps another admin's explicit quotaRemaining (held)", async () => {
    const { key, keyId } = await other.create({ quotaMax: 10, quotaRenewalRate: 3600 });
    raced.before = [async () => void (await other.update(keyId, { quotaRemaining: 0 }))];
    const patched = await admin.update(keyId, { metaData: { t: 'b' } });
    expect(patched).toMatchObject({ metaData: { t: 'b' }, quotaRemaining: 0 });
    expect(await env.pipeline.authorize(requestWith(key))).toMatchObject({ allow: false });
  });

  it('a PATCH without If-Match read before a deactivation and reactivation (ABA) lands on the key as it is (held)', async () => {
    const { key, keyId } = await other.create({ quotaMax: 10, quotaRenewalRate: 3600 });
    raced.before = [
      async () => {
        await other.update(keyId, { isInactive: true });
        await other.update(keyId, { isInactive: false, quotaRemaining: 2 });
      },
    ];
    const patched = await admin.update(keyId, { tags: ['x'] }).catch((error: Error) => error.name);
    // Either answer is honest: refused (the settings moved under it), or applied to the key as it is now.
    if (typeof patched !== 'string') expect(patched).toMatchObject({ tags: ['x'], isInactive: false, quotaRemaining: 2 });
    const answers = await Promise.all(Array.from({ length: 4 }, () => env.pipeline.authorize(requestWith(key))));
    expect(answers.filter((a) => a.allow)).toHaveLength(2);
  });
});
