import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySessionPk } from '../../lambdas/core/model/keys.ts';
import { pastLifePk } from '../../lambdas/core/store/past-lives.ts';
import { createTestTable, lambdaClient, scanAll, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack (held): past lives add one Put per deleted pointer to the largest transactions —
 * a delete and a rotation of a key with ten keys (the most a session takes) spread over 64
 * counter items (the most it spreads over). DynamoDB refuses a transaction of more than 100
 * items. Counted: a delete is 1 + 1 + 9 × 2 + 64 = 84 items; a rotation retiring the most
 * pointers it can (8: the newest key is never retired, the session's own key has no
 * pointer) is 1 + 1 + 8 × 2 + 64 = 82: under the limit, and both land (observed),
 * and each deleted pointer's id, imported again, starts above every version read through it.
 */
describe('attack13 (held): the largest transactions with past lives', () => {
  let table: TestTable;
  let env: ReturnType<typeof pipelineOn>;
  let nowMs = Date.now();
  let n = 0;
  const rawKey = () => `attack13-largest-${String(++n).padStart(4, '0')}-${Date.now()}`;

  beforeAll(async () => {
    table = await createTestTable('attack13-largest');
    env = pipelineOn(lambdaClient(), table.tableName, { clock: () => nowMs });
  });
  afterAll(async () => {
    await table.drop();
  });

  /** A key rotated 9 times (ten keys on one session, each earlier one in a grace of 60 s), spread over 64 counter items. */
  async function tenKeysSpread() {
    const first = await env.keys.create({ key: rawKey(), quotaMax: 1000, quotaRenewalRate: 3600 });
    const rotated = [];
    for (let i = 0; i < 9; i++) rotated.push(await env.keys.rotate(first.keyId, { graceSeconds: 60 }));
    await spreadKey(env.doc, table.tableName, keySessionPk(first.keyId), 64);
    // Leases on some of the 64 counter items, through the newest key.
    for (let i = 0; i < 5; i++) expect(await env.pipeline.authorize(requestWith(rotated[8]!.key))).toMatchObject({ allow: true });
    const session = await env.keys.get(first.keyId);
    expect(session.keys).toHaveLength(10);
    return { first, rotated, version: session.version };
  }

  it('a delete of a key with ten keys and 64 counter items lands, and records every pointer', async () => {
    const { first, rotated, version } = await tenKeysSpread();
    await env.keys.delete(rotated[3]!.keyId, version);
    for (const r of [first, ...rotated]) expect((await env.pipeline.authorize(requestWith(r.key))).allow).toBe(false);
    const items = await scanAll(table.tableName);
    const pks = new Set(items.map((item) => item.pk as string));
    expect([...pks].filter((pk) => pk.startsWith(`${keySessionPk(first.keyId)}#c`))).toEqual([]);
    for (const r of rotated) {
      expect(items.find((item) => item.pk === pastLifePk(keySessionPk(r.keyId)))).toMatchObject({ version });
      // The rotated key's raw value imported again: above every version read through it.
      expect((await env.keys.create({ key: r.key, quotaMax: 5 })).session.version).toBe(version + 1);
    }
  }, 15_000);

  it('a rotation retiring eight pointers of a key spread over 64 counter items lands, and records them', async () => {
    const { first, rotated, version } = await tenKeysSpread();
    nowMs += 120_000;
    const next = await env.keys.rotate(first.keyId, {});
    expect(next.session.version).toBe(version + 1);
    expect(next.session.keys?.map((k) => k.keyId).sort()).toEqual([rotated[8]!.keyId, next.keyId].sort());
    for (const r of rotated.slice(0, 8)) {
      expect((await env.pipeline.authorize(requestWith(r.key))).allow).toBe(false);
      expect((await env.keys.create({ key: r.key, quotaMax: 5 })).session.version).toBe(version + 2);
    }
    expect(await env.pipeline.authorize(requestWith(next.key))).toMatchObject({ allow: true });
    nowMs -= 120_000;
  }, 15_000);
});
