import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../lambdas/core/model/errors.ts';
import { keySessionPk } from '../../lambdas/core/model/keys.ts';
import { pastLifePk } from '../../lambdas/core/store/past-lives.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Fixed: a pointer names its session only while that session names the key id
 * (`OrphanPointerError`, a 404, otherwise: nothing read, changed or made through it), and a
 * DELETE of such a key id releases it — the pointer goes, with a record at the version the
 * session's record holds (every version read through it) — so the key imported after starts
 * above. (The import before that DELETE still answers 409: the id is held until released.)
 *
 * Attack: a rotated-in key id whose session ended by its TTL. A key A (with `expires`) is
 * rotated to B (grace 60 s) and PATCHed through B: `/keys/B` answers version 3. The session
 * then ends by its TTL (simulated: DeleteItem of A's session item only, as DynamoDB's TTL
 * does). B's pointer has no TTL and nothing deletes it, and no record `<key#B>#past` was
 * ever written (only `<key#A>#past`, version 3).
 *
 * 1. The operator restores the customer's key B (imports its raw value).
 *    Observed: AlreadyExistsError ("a session already exists for this key", 409), while
 *    `/keys/B` answers 404 and the authorizer answers key_not_found: key id B can never be
 *    imported again. (Were the pointer simply given a TTL, the import would start at
 *    version 1 — no record under B — and an If-Match 3 read through B would land.)
 *    Expected: created, at a version above 3.
 * 2. The operator restores key A instead (version 4, quotaMax 70). The stale pointer now
 *    makes `/keys/B` answer A's new life. Observed: GET /keys/B answered version 4,
 *    quotaMax 70, although the authorizer refuses B (key_not_found: the new life never had
 *    B), and a DELETE /keys/B (no If-Match: "remove the leftover key B") deleted the
 *    restored key A. Expected: 404 on B, and A left alone.
 *
 * Suggested fix: a create that meets a pointer to a session that is gone replaces it (in
 * the create's transaction, conditioned on the pointer as read) and starts above the
 * session's record too; the admin's read through a pointer checks that the session still
 * accepts the key id (`keyAccepted`, as the authorizer does). Or give pointers the
 * session's TTL and write `<pointer pk>#past` with the session's version on every change
 * while the pointer lives.
 */
describe('attack17: a rotated key whose session ended by its TTL', () => {
  let table: TestTable;
  let env: ReturnType<typeof pipelineOn>;
  let n = 0;
  const rawKey = () => `attack17-rotated-ttl-${String(++n).padStart(4, '0')}-${Date.now()}`;
  beforeAll(async () => {
    table = await createTestTable('attack17-rotated-ttl');
    env = pipelineOn(lambdaClient(), table.tableName);
  });
  afterAll(async () => {
    await table.drop();
  });
  const item = async (pk: string) =>
    (await env.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item;
  const outcome = <T>(p: Promise<T>, ok: (v: T) => unknown) =>
    p.then(ok, (error: Error) => (error instanceof NotFoundError ? 'NotFoundError' : error.name));

  /** A rotated to B, B PATCHed (version 3 read through B), then A's session ended by its TTL. */
  async function rotatedThenExpired() {
    const { keys } = env;
    const first = await keys.create({ key: rawKey(), quotaMax: 5, quotaRenewalRate: 3600, expires: Math.floor(Date.now() / 1000) + 3600 });
    const rotated = await keys.rotate(first.keyId, { graceSeconds: 60 });
    await keys.update(rotated.keyId, { quotaMax: 6 });
    expect(await keys.get(rotated.keyId)).toMatchObject({ version: 3, quotaMax: 6 });
    expect(await item(pastLifePk(keySessionPk(first.keyId)))).toMatchObject({ version: 3 });
    expect(await item(pastLifePk(keySessionPk(rotated.keyId)))).toBeUndefined();
    await env.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: keySessionPk(first.keyId) } }));
    return { first, rotated };
  }

  it('imports the rotated-in key again, above every version read through it', async () => {
    const { rotated } = await rotatedThenExpired();
    expect(await outcome(env.keys.get(rotated.keyId), (s) => s.version)).toBe('NotFoundError');
    expect(await env.pipeline.authorize(requestWith(rotated.key))).toMatchObject({ allow: false, reason: 'key_not_found' });
    // Held by the pointer the rotation left, until a DELETE of the key id releases it.
    expect(await outcome(env.keys.create({ key: rotated.key, quotaMax: 50, quotaRenewalRate: 3600 }), () => 'created')).toBe(
      'AlreadyExistsError',
    );
    await env.keys.delete(rotated.keyId);
    expect(await item(keySessionPk(rotated.keyId))).toBeUndefined();
    const restored = await outcome(env.keys.create({ key: rotated.key, quotaMax: 50, quotaRenewalRate: 3600 }), (c) => c.session.version);
    expect(restored).toBeTypeOf('number');
    expect(restored as number).toBeGreaterThan(3);
    expect(await outcome(env.keys.update(rotated.keyId, { quotaMax: 1 }, 3), () => 'landed')).toBe('VersionConflictError');
  });

  it('does not answer, nor delete, the first key imported again through the ended key id', async () => {
    const { first, rotated } = await rotatedThenExpired();
    const restoredA = await env.keys.create({ key: first.key, quotaMax: 70, quotaRenewalRate: 3600 });
    expect(restoredA.session.version).toBe(4);
    // The authorizer refuses B on A's new life (it never had B)...
    expect(await env.pipeline.authorize(requestWith(rotated.key))).toMatchObject({ allow: false, reason: 'key_not_found' });
    // ...but the admin API answers A's new life under B (observed: version 4, quotaMax 70).
    const viaB = await outcome(env.keys.get(rotated.keyId), (s) => `version ${s.version}, quotaMax ${s.quotaMax}`);
    // And a DELETE of the leftover key B deletes the restored A (observed: A gone).
    await env.keys.delete(rotated.keyId).catch(() => undefined);
    const a = await outcome(env.keys.get(first.keyId), (s) => `version ${s.version}, quotaMax ${s.quotaMax}`);
    expect({ viaB, a }).toEqual({ viaB: 'NotFoundError', a: 'version 4, quotaMax 70' });
  });
});
