import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import { pastLifePk, PAST_LIFE_TTL_SECONDS } from '../../lambdas/core/store/past-lives.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * Attack (held): a key's old life ends by its TTL after a racing mix of writes from two admin
 * instances — resets without If-Match, PATCHes without If-Match that set, move and remove
 * `expires` (the session's TTL), PATCHes of metaData, a rotation — and is imported again.
 * Checked after the mix, before the TTL: the record (`<pk>#past`) holds at least the
 * session's version, and its TTL is the session's + 400 days (none when the session has
 * none). After: the new life starts above every version any write or read answered, and an
 * If-Match of every old version (PATCH, PUT, DELETE, reset) is refused (409) and changes nothing.
 * Observed (3 runs × 3 rounds): held — the old lives reached versions 6-8, the new ones started one above.
 */
describe('attack17: a key ended by its TTL after racing writes, imported again', () => {
  let table: TestTable;
  let one: ReturnType<typeof pipelineOn>;
  let two: ReturnType<typeof pipelineOn>;
  let n = 0;
  const rawKey = () => `attack17-lives-mix-${String(++n).padStart(4, '0')}-${Date.now()}`;
  beforeAll(async () => {
    table = await createTestTable('attack17-lives-mix');
    one = pipelineOn(lambdaClient(), table.tableName);
    two = pipelineOn(lambdaClient(), table.tableName);
  });
  afterAll(async () => {
    await table.drop();
  });
  const item = async (pk: string) =>
    (await one.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as
      | { version: number; ttl?: number }
      | undefined;

  it('starts the new life above every version of the old, whatever raced in it', async () => {
    for (let round = 0; round < 3; round++) {
      const key = rawKey();
      const keyId = keyIdOf(key);
      const pk = keySessionPk(keyId);
      const now = Math.floor(Date.now() / 1000);
      const answered: number[] = [];
      const note = (version: number) => answered.push(version);
      const tolerate = (p: Promise<{ version: number } | { session: { version: number } }>) =>
        p.then(
          (s) => note('session' in s ? s.session.version : s.version),
          (error: Error) => expect(['VersionConflictError', 'ContentionError']).toContain(error.name),
        );
      note((await one.keys.create({ key, quotaMax: 5, quotaRenewalRate: 3600, expires: now + 3600 })).session.version);
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        const keys = i % 2 === 0 ? one.keys : two.keys;
        writes.push(tolerate(keys.resetQuota(keyId)));
        writes.push(tolerate(keys.update(keyId, { expires: i === 3 ? 0 : now + 3600 * (i + 2) })));
        writes.push(tolerate(keys.update(keyId, { metaData: { i } })));
        writes.push(tolerate(keys.get(keyId)));
      }
      writes.push(tolerate(two.keys.rotate(keyId, { graceSeconds: 60 })));
      await Promise.all(writes);
      // A last expiry, set or removed, after the race.
      if (round !== 1) note((await one.keys.update(keyId, { expires: round === 0 ? now + 900 : 0 })).version);
      const session = (await item(pk))!;
      const record = (await item(pastLifePk(pk)))!;
      note(session.version);
      expect(record.version).toBeGreaterThanOrEqual(session.version);
      if (session.ttl === undefined) expect(record.ttl).toBeUndefined();
      else expect(record.ttl).toBe(session.ttl + PAST_LIFE_TTL_SECONDS);
      const last = Math.max(...answered);

      await one.doc.send(new DeleteCommand({ TableName: table.tableName, Key: { pk } }));
      const again = await two.keys.create({ key, quotaMax: 50, quotaRenewalRate: 3600 });
      expect(again.session.version).toBeGreaterThan(last);
      const stale: string[] = [];
      for (let version = 1; version <= last; version++) {
        const keys = version % 2 === 0 ? one.keys : two.keys;
        const attempts = [
          () => keys.update(keyId, { quotaMax: version }, version),
          () => keys.replace(keyId, { quotaMax: version, quotaRenewalRate: 60 }, version),
          () => keys.resetQuota(keyId, version),
          () => keys.delete(keyId, version),
        ];
        for (const attempt of attempts)
          stale.push(
            await attempt().then(
              () => 'landed',
              (error: Error) => error.name,
            ),
          );
      }
      expect(stale.filter((s) => s !== 'VersionConflictError')).toEqual([]);
      expect(await one.keys.get(keyId)).toMatchObject({ version: again.session.version, quotaMax: 50 });
    }
  }, 15_000);
});
