import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Key rotation through the admin key service and the pipeline: what is left behind after a
 * delete, what a second rotation does to a grace already running, and which key id a
 * denial on the rotated-in key reports.
 */
describe('attack2: key rotation, admin side', () => {
  let table: TestTable;
  let nowMs = Math.floor(Date.now() / 1000) * 1000;
  let env: ReturnType<typeof pipelineOn>;

  beforeAll(async () => {
    table = await createTestTable('attack2-rot-admin');
    env = pipelineOn(table.client, table.tableName, { clock: () => nowMs });
  });
  afterAll(async () => {
    await table.drop();
  });

  it('after the session is deleted, the rotated-in raw key can be imported as a new key (GET says 404, so POST must not say 409)', async () => {
    const { keys, pipeline } = env;
    const { keyId } = await keys.create({ quotaMax: 10, quotaRenewalRate: 3600 });
    const rotated = await keys.rotate(keyId, { graceSeconds: 0 });
    await keys.delete(rotated.keyId);
    await expect(keys.get(rotated.keyId)).rejects.toThrow(/no key/);

    const imported = await keys.create({ key: rotated.key, quotaMax: 3, quotaRenewalRate: 3600 });
    expect(imported.keyId).toBe(rotated.keyId);
    const decision = await pipeline.authorize(requestWith(rotated.key));
    expect(decision).toMatchObject({ allow: true, principalId: rotated.keyId });
  });

  it('rotating again with no grace refuses every older key at once (README: "Rotating again"), the newest key still works', async () => {
    const { keys, pipeline } = env;
    const { key: first, keyId } = await keys.create({});
    const second = await keys.rotate(keyId, { graceSeconds: 600 }); // first key: 10 minutes more
    const third = await keys.rotate(keyId, { graceSeconds: 0 }); // after a leak: every older key now
    nowMs += 5_000;
    expect(await pipeline.authorize(requestWith(first))).toMatchObject({ allow: false, reason: 'key_not_found' });
    expect(await pipeline.authorize(requestWith(second.key))).toMatchObject({ allow: false, reason: 'key_not_found' });
    expect((await pipeline.authorize(requestWith(third.key))).allow).toBe(true);
  });

  it('a denial on the rotated-in key reports the session key id, as an Allow does ("usage and logs stay one key")', async () => {
    const { keys, pipeline } = env;
    const { keyId } = await keys.create({ quotaMax: 1, quotaRenewalRate: 3600 });
    const rotated = await keys.rotate(keyId, { graceSeconds: 600 });
    const allow = await pipeline.authorize(requestWith(rotated.key));
    expect(allow).toMatchObject({ allow: true, principalId: keyId, context: { keyId } });
    const denial = await pipeline.authorize(requestWith(rotated.key));
    expect(denial).toMatchObject({ allow: false, reason: 'quota_exceeded' });
    expect((denial as { keyId?: string }).keyId).toBe(keyId);
  });
});
