import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack30 (a wrong denial that never ends on one instance): `KeyPointers` remembers a rotated-in key's pointer
 * (`key#B` → the session it used) as an immutable fact. But a pointer ends: retired by a later rotation (or released
 * by a DELETE of the key id), after which the raw key B may be imported again as a key of its own — supported, and
 * documented ("a raw key imported again under its id starts above too"). An instance that used B while it was
 * rotated in still follows its remembered pointer to the old session, which no longer names B: `key_not_found`, on
 * current settings, for as long as the instance lives (`KeyPointers.reread` runs only when the old session is gone).
 * Expected: the imported key B is allowed by every instance (a fresh one allows it: the control).
 */
describe('attack30: a remembered pointer outlives its end and refuses the key imported again', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a30-stale-pointer');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('the key imported under a retired rotated-in key id is allowed by an instance that used it before', async () => {
    const client = lambdaClient();
    const X = pipelineOn(client, table.tableName);
    const { key: a, keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    expect(await X.pipeline.authorize(requestWith(a))).toMatchObject({ allow: true });
    // A → B (grace 0): X uses B and remembers its pointer.
    const { key: b, keyId: bId } = await X.keys.rotate(aId, { graceSeconds: 0 });
    expect(await X.pipeline.authorize(requestWith(b))).toMatchObject({ allow: true });
    // B → C (grace 0), then C → D: B's grace is over, so the rotation ends B's pointer.
    const { keyId: cId } = await X.keys.rotate(bId, { graceSeconds: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { key: d } = await X.keys.rotate(cId, { graceSeconds: 0 });
    expect(await X.pipeline.authorize(requestWith(d))).toMatchObject({ allow: true });
    expect(await X.store.get(`key#${bId}`)).toBeUndefined();
    // The raw key B, imported again: a key of its own.
    const imported = await X.keys.create({ key: b, quotaMax: 100, quotaRenewalRate: 3600 });
    expect(imported.keyId).toBe(bId);
    const fresh = pipelineOn(lambdaClient(), table.tableName);
    const control = await fresh.pipeline.authorize(requestWith(b));
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await X.pipeline.authorize(requestWith(b));
      answers.push(d.allow ? 'allow' : d.reason);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect({ control: control.allow, answers }).toEqual({ control: true, answers: Array(5).fill('allow') });
  }, 30_000);
});
