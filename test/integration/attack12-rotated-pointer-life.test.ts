import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { type pipelineOn, requestWith } from '../support/pipeline.ts';
import { racedAdmin } from '../support/raced-store.ts';

/**
 * Fixed (1): a pointer deleted — by a delete, or by a rotation retiring its key — records the
 * last version read through it beside it, as a deleted session does. Fixed (2): every write
 * that moves a session's version (create, change, reset, rotation) also writes its record,
 * so a session that ends by its TTL, which writes nothing, leaves one
 * (`test/integration/key-lives-ttl.test.ts` covers it further).
 *
 * Attack: a key's versions go on across its lives only under the partition key the delete
 * wrote its `<pk>#past` beside. Two other ways a key id names a life escape it.
 *
 * 1. A rotated-in key id. After a rotation the session lives under the first key's pk; the
 *    new key id is a pointer. An admin reads `/keys/<new id>` (version 2), DELETEs it with
 *    `If-Match: 2`: the session and the pointer go, the last version is recorded beside
 *    the *first* key's pk only. The answer is lost. The operator restores the customer's
 *    key (imports its raw value, the one the customer holds): a new life under
 *    `key#<new id>`, which has no past record — version 1; one PATCH later, version 2. The
 *    re-sent DELETE (`If-Match: 2`) holds on the new life and deletes it.
 *    Observed: the re-send answers 204 and the restored key is gone (expected 409).
 *    Also: `/keys/<new id>` answered version 2 with quotaMax 5 (old life) and version 2
 *    with quotaMax 7 (new life): one version, two sets of settings. The same without a
 *    delete: a rotated-in key retired (its pointer deleted by a later rotation) and
 *    imported again starts at version 1; a PATCH with `If-Match: 2` read through the
 *    pointer lands on it (observed: 200, quotaMax 6 over the new life's 7).
 *
 * 2. A key that ends by its TTL (`expires` + retention): DynamoDB deletes the item, no
 *    transaction records its last version. Re-imported, the key starts at version 1
 *    again, and an `If-Match: 1` read in the old life (quotaMax 5) lands on the new one.
 *    Observed: the stale PATCH answers 200 and overwrites the new life's settings
 *    (expected 409). TTL is simulated by deleting the item as DynamoDB's TTL would.
 *
 * Severity: medium (1), low (2): both need a raw key imported again, which is how an
 * operator restores a key; (1) loses a restored key to a re-sent DELETE, exactly what
 * past lives were built to stop.
 * Suggested fix: (1) wherever a pointer is deleted (a delete, a rotation retiring a key),
 * write `<pointer pk>#past` with the session's version in the same transaction;
 * (2) a session with a TTL keeps its version on a record that outlives it (write
 * `<pk>#past` with the session's version and a TTL past the session's on create and on every
 * change that moves expires — or give `#past` items of keys with `expires` the session's
 * TTL + 400 days at create), or refuse re-import of a key id whose `#past` is missing while
 * an expired session could have existed.
 */
describe('attack12: lives of a key the past record does not see', () => {
  let table: TestTable;
  let admin: KeyService;
  let env: ReturnType<typeof pipelineOn>;
  let n = 0;
  const rawKey = () => `attack12-rotated-pointer-${String(++n).padStart(4, '0')}`;

  beforeAll(async () => {
    table = await createTestTable('attack12-rotated');
    ({ env, other: admin } = racedAdmin(table));
  });
  afterAll(async () => {
    await table.drop();
  });

  it('a DELETE re-sent with If-Match on a rotated-in key id does not delete the key restored under that id', async () => {
    const first = await admin.create({ key: rawKey(), quotaMax: 5, quotaRenewalRate: 3600 });
    const rotated = await admin.rotate(first.keyId, {});
    const read = await admin.get(rotated.keyId);
    expect(read).toMatchObject({ version: 2, quotaMax: 5 });

    // The admin's DELETE lands; its answer is lost.
    await admin.delete(rotated.keyId, 2);
    await expect(admin.get(rotated.keyId)).rejects.toMatchObject({ name: 'NotFoundError' });

    // The operator restores the customer's key (the raw value the customer holds), and edits it.
    const restored = await admin.create({ key: rotated.key, quotaMax: 7, quotaRenewalRate: 3600 });
    expect(restored.keyId).toBe(rotated.keyId);
    await admin.update(rotated.keyId, { metaData: { restored: true } });
    const now = await admin.get(rotated.keyId);
    // A version is never answered twice with different settings.
    const versionAnsweredTwice = now.version === read.version && now.quotaMax !== read.quotaMax;

    // The re-sent DELETE, same If-Match: it must not land on the restored key.
    const resent = await admin.delete(rotated.keyId, 2).then(
      () => 'deleted',
      (error: Error) => error.name,
    );
    const restoredKeyWorks = (await env.pipeline.authorize(requestWith(rotated.key))).allow;
    expect({ versionAnsweredTwice, resent, restoredKeyWorks }).toEqual({
      versionAnsweredTwice: false,
      resent: 'VersionConflictError',
      restoredKeyWorks: true,
    });
  });

  it('an If-Match read through a rotated-in key id does not hold on the key imported under that id after it retired', async () => {
    const first = await admin.create({ key: rawKey(), quotaMax: 5, quotaRenewalRate: 3600 });
    const second = await admin.rotate(first.keyId, {});
    const read = await admin.get(second.keyId);
    expect(read).toMatchObject({ version: 2, quotaMax: 5 });
    // Rotated on: the second key retires now, and the rotation after its grace deletes its pointer.
    await admin.rotate(first.keyId, {});
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await admin.rotate(first.keyId, {});
    await expect(admin.get(second.keyId)).rejects.toMatchObject({ name: 'NotFoundError' });

    // The retired key imported again (the raw value its customer still holds), and edited.
    await admin.create({ key: second.key, quotaMax: 7, quotaRenewalRate: 3600 });
    await admin.update(second.keyId, { metaData: { restored: true } });
    // A PATCH from the read through the pointer (If-Match: 2).
    const stale = await admin.update(second.keyId, { quotaMax: 6 }, 2).then(
      () => 'landed',
      (error: Error) => error.name,
    );
    const { quotaMax } = await admin.get(second.keyId);
    expect({ stale, quotaMax }).toEqual({ stale: 'VersionConflictError', quotaMax: 7 });
  });

  // A session removed by its TTL — `sessionRetentionSeconds` (30 days by default) after it
  // expired — writes nothing; its record (`<pk>#past`) was written by every write that moved
  // its version, so the key imported again still starts above the old life.
  it('an If-Match read before a key ended by TTL does not hold on the key imported again', async () => {
    const key = rawKey();
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const old = await admin.create({ key, quotaMax: 5, quotaRenewalRate: 3600, expires });
    expect(old.session.version).toBe(1);

    // expires + retention passed: DynamoDB's TTL deletes the session item (no transaction, no past record).
    await env.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: keySessionPk(keyIdOf(key)) } }));

    const again = await admin.create({ key, quotaMax: 50, quotaRenewalRate: 3600 });
    // The admin's PATCH from its read of the old life (If-Match: 1).
    const stale = await admin.update(old.keyId, { quotaMax: 6 }, 1).then(
      () => 'landed',
      (error: Error) => error.name,
    );
    const { quotaMax } = await admin.get(old.keyId);
    expect({ newLifeVersion: again.session.version, stale, quotaMax }).toEqual({
      newLifeVersion: expect.any(Number),
      stale: 'VersionConflictError',
      quotaMax: 50,
    });
  });
});
