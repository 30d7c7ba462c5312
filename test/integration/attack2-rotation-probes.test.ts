import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { SessionIndex } from '../../lambdas/admin/session-index.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import type { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { concurrently, pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Probes that held: a retired key on instances that remember settings and pointers, one
 * quota across both keys on several instances, an auth hook on a retired key, re-creation
 * of the session under the old raw key. Kept as regression tests.
 */
describe('attack2: key rotation probes that held', () => {
  let table: TestTable;
  let store: SessionStore;
  let keys: KeyService;
  let pipelineWith: (plugins?: readonly GatepassPlugin[]) => Pipeline;
  let nowMs = Math.floor(Date.now() / 1000) * 1000;

  beforeAll(async () => {
    table = await createTestTable('attack2-rot-probes');
    ({ store, keys, pipelineWith } = pipelineOn(table.client, table.tableName, { clock: () => nowMs }));
  });
  afterAll(async () => {
    await table.drop();
  });

  it('one quota across both keys on three warmed instances', async () => {
    const { key: old, keyId } = await keys.create({ quotaMax: 10, quotaRenewalRate: 3600 });
    const instances = [pipelineWith(), pipelineWith(), pipelineWith()];
    for (const p of instances) expect((await p.authorize(requestWith(old))).allow).toBe(true); // 3 used, settings remembered
    const rotated = await keys.rotate(keyId, { graceSeconds: 600 });
    const results = await concurrently(24, (i) => instances[i % 3]!.authorize(requestWith(i % 2 ? old : rotated.key)));
    expect(results.filter((r) => r.allow)).toHaveLength(7);
    expect((await keys.get(rotated.keyId)).quotaRemaining).toBe(0);
  });

  it('a retired key is refused after its grace on instances that remember the settings (limits or none)', async () => {
    for (const fields of [{ quotaMax: 100, quotaRenewalRate: 3600 }, {}]) {
      const { key: old, keyId } = await keys.create(fields);
      const instance = pipelineWith();
      expect((await instance.authorize(requestWith(old))).allow).toBe(true);
      const rotated = await keys.rotate(keyId, { graceSeconds: 2 });
      expect((await instance.authorize(requestWith(old))).allow).toBe(true);
      expect((await instance.authorize(requestWith(rotated.key))).allow).toBe(true);
      nowMs += 3_000;
      expect(await instance.authorize(requestWith(old))).toMatchObject({ allow: false, reason: 'key_not_found' });
      expect((await instance.authorize(requestWith(rotated.key))).allow).toBe(true);
    }
  });

  it('an auth hook answering a retired key (with or without a session) is refused after the grace', async () => {
    const { key: old, keyId } = await keys.create({});
    await keys.rotate(keyId, { graceSeconds: 0 });
    for (const answer of [{ key: old }, { key: old, session: {} }, { key: old, createSession: {} }]) {
      const auth: GatepassPlugin = { name: 'auth', auth: () => answer };
      expect(await pipelineWith([auth]).authorize(requestWith(undefined))).toMatchObject({ allow: false, reason: 'key_not_found' });
    }
  });

  it('after delete and re-import of the old raw key, the rotated-in key (remembered pointer or not) is refused', async () => {
    const { key: old, keyId } = await keys.create({});
    const rotated = await keys.rotate(keyId, { graceSeconds: 600 });
    const warmed = pipelineWith();
    expect((await warmed.authorize(requestWith(rotated.key))).allow).toBe(true);
    await keys.delete(keyId);
    await keys.create({ key: old });
    expect((await warmed.authorize(requestWith(old))).allow).toBe(true);
    expect(await warmed.authorize(requestWith(rotated.key))).toMatchObject({ allow: false, reason: 'key_not_found' });
    expect(await pipelineWith().authorize(requestWith(rotated.key))).toMatchObject({ allow: false, reason: 'key_not_found' });
  });

  it('a GET body saved back with PUT and PATCH keeps the keys; a JWT identity does not rotate; If-Match is honoured', async () => {
    const { keyId } = await keys.create({ quotaMax: 5, quotaRenewalRate: 3600 });
    const rotated = await keys.rotate(keyId, { graceSeconds: 600 });
    const read = await keys.get(rotated.keyId);
    await keys.replace(rotated.keyId, { ...read, keys: [] });
    await keys.update(rotated.keyId, { ...read, keys: [{ keyId: 'x', retiresAt: 0 }] });
    const after = await keys.get(keyId);
    expect(after.keys).toEqual(read.keys);
    await expect(keys.rotate(keyId, {}, after.version + 1)).rejects.toThrow(/version/);
    await expect(keys.rotate(keyId, { graceSeconds: -1 })).rejects.toThrow();
  });

  it('GET /keys lists a rotated session once and no pointer, even after the session is deleted', async () => {
    const listed = new KeyService(store, () => Math.floor(nowMs / 1000), {
      index: new SessionIndex({ client: table.doc, tableName: table.tableName }),
    });
    const alias = `rot-${nowMs}`;
    const { keyId } = await listed.create({ alias });
    const rotated = await listed.rotate(keyId, { graceSeconds: 600 });
    await listed.rotate(rotated.keyId, { graceSeconds: 600 });
    const all = async () => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await listed.list({ limit: 100, ...(cursor ? { cursor } : {}) });
        ids.push(...page.items.map((s) => s.keyId));
        cursor = page.cursor ?? undefined;
      } while (cursor);
      return ids;
    };
    const ids = await all();
    expect(ids.filter((id) => id === keyId)).toHaveLength(1);
    expect(ids).not.toContain(rotated.keyId);
    expect((await listed.list({ alias, limit: 10 })).items.map((s) => s.keyId)).toEqual([keyId]);
    await listed.delete(keyId);
    expect(await all()).not.toContain(keyId);
  });

  it('an auth hook answering { key: rotated-in key } alone follows the pointer', async () => {
    const { keyId } = await keys.create({ quotaMax: 5, quotaRenewalRate: 3600 });
    const rotated = await keys.rotate(keyId, { graceSeconds: 0 });
    const auth: GatepassPlugin = { name: 'auth', auth: () => ({ key: rotated.key }) };
    expect(await pipelineWith([auth]).authorize(requestWith(undefined))).toMatchObject({ allow: true, principalId: keyId });
    expect((await keys.get(keyId)).quotaRemaining).toBe(4);
  });
});
