import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import { pastLifePk, PAST_LIFE_TTL_SECONDS } from '../../lambdas/core/store/past-lives.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * A key that ends by its TTL (`expires` + `sessionRetentionSeconds`): DynamoDB deletes the
 * session item and writes nothing else. The key imported again must still start above every
 * version its old life had, or an `If-Match` read in the old life lands on the new one. So
 * every write that moves a version writes the record beside the key (`<pk>#past`), and the
 * record outlives the session. TTL is simulated by deleting the item as DynamoDB's TTL would.
 */
describe('a key ended by its TTL', () => {
  let table: TestTable;
  let env: ReturnType<typeof pipelineOn>;
  let n = 0;
  const rawKey = () => `key-lives-ttl-${String(++n).padStart(4, '0')}-${Date.now()}`;
  beforeAll(async () => {
    table = await createTestTable('key-lives-ttl');
    env = pipelineOn(lambdaClient(), table.tableName);
  });
  afterAll(async () => {
    await table.drop();
  });

  const record = async (keyId: string) =>
    (await env.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: pastLifePk(keySessionPk(keyId)) }, ConsistentRead: true })))
      .Item as { version: number; ttl?: number } | undefined;

  it('starts the key imported again above every version of the old life, whatever moved it', async () => {
    const { keys } = env;
    const key = rawKey();
    const keyId = keyIdOf(key);
    const now = Math.floor(Date.now() / 1000);
    await keys.create({ key, quotaMax: 5, quotaRenewalRate: 3600, expires: now + 3600 });
    await keys.update(keyId, { quotaMax: 6 }); // a change: version 2
    await keys.resetQuota(keyId); // a reset without If-Match (its guard names no version): 3
    await keys.rotate(keyId, { graceSeconds: 60 }); // a rotation: 4
    await keys.update(keyId, { expires: now + 7200 }, 4); // a later expiry moves the TTL: 5
    const last = await keys.get(keyId);
    expect(last.version).toBe(5);
    const session = (await env.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: keySessionPk(keyId) } }))).Item!;
    // The record holds the session's version and outlives its TTL.
    expect(await record(keyId)).toEqual({ pk: pastLifePk(keySessionPk(keyId)), version: 5, ttl: session.ttl + PAST_LIFE_TTL_SECONDS });

    await env.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: keySessionPk(keyId) } }));
    const again = await keys.create({ key, quotaMax: 50, quotaRenewalRate: 3600 });
    expect(again.session.version).toBe(6);
    // Every If-Match the old life answered is refused on the new one, and changes nothing.
    const stale: string[] = [];
    for (let version = 1; version <= 5; version++)
      stale.push(
        await keys.update(keyId, { quotaMax: version }, version).then(
          () => 'landed',
          (error: Error) => error.name,
        ),
      );
    expect(stale).toEqual(Array(5).fill('VersionConflictError'));
    expect(await keys.get(keyId)).toMatchObject({ version: 6, quotaMax: 50 });
    // The new life has no expiry: its record lives as long as it does.
    expect(await record(keyId)).toEqual({ pk: pastLifePk(keySessionPk(keyId)), version: 6 });
  });

  it('keeps the record as long as the session when an expiry is removed, and a delete still records its last version', async () => {
    const { keys } = env;
    const key = rawKey();
    const keyId = keyIdOf(key);
    await keys.create({ key, quotaMax: 5, quotaRenewalRate: 3600, expires: Math.floor(Date.now() / 1000) + 60 });
    expect((await record(keyId))?.ttl).toBeGreaterThan(0);
    await keys.update(keyId, { expires: 0 });
    expect(await record(keyId)).toEqual({ pk: pastLifePk(keySessionPk(keyId)), version: 2 });
    await keys.delete(keyId, 2);
    expect(await record(keyId)).toMatchObject({ version: 2, ttl: expect.any(Number) });
    expect((await keys.create({ key, quotaMax: 5, quotaRenewalRate: 3600 })).session.version).toBe(3);
  });
});
