import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack31 (a wrong denial that never ends on one instance, with `postAuth` hooks). The attack30 fix reads a remembered
 * pointer again (`KeyPointers.taken` → `reread`) when the session it names no longer takes the key. But when that
 * session is *gone* (the key A was deleted, which ends B's pointer too), `taken` answers `{ who, item: undefined }`
 * unchanged and `Pipeline.#start` (postAuth branch) calls `whenMissing()`: `key_not_found`, without `reread`, and the
 * pointer stays remembered. Without hooks the loop's `item === undefined && pointerPk` branch rereads; with hooks the
 * request never gets there. So the raw key B imported again as a key of its own (documented) is refused by an
 * instance with a `postAuth` hook that used B before, on every request, for as long as the instance lives.
 * Expected: B is allowed there, as on a fresh instance (the control).
 */
describe('attack31: a remembered pointer to a deleted session refuses the imported key for good (postAuth hooks)', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a31-deleted-pointer');
  });
  afterAll(async () => {
    await table.drop();
  });

  const noop: GatepassPlugin = { name: 'noop', postAuth() {} };

  it('the key imported under the id of a deleted session’s rotated-in key is allowed by an instance that used it', async () => {
    const X = pipelineOn(lambdaClient(), table.tableName);
    const hooked = X.pipelineWith([noop]);
    const { keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    const { key: b, keyId: bId } = await X.keys.rotate(aId, { graceSeconds: 0 });
    expect(await hooked.authorize(requestWith(b))).toMatchObject({ allow: true }); // remembers key#B → key#A
    await X.keys.delete(aId); // the session and B's pointer end
    expect(await X.store.get(`key#${bId}`)).toBeUndefined();
    const imported = await X.keys.create({ key: b, quotaMax: 100, quotaRenewalRate: 3600 });
    expect(imported.keyId).toBe(bId);
    const control = await X.pipelineWith([noop]).authorize(requestWith(b));
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await hooked.authorize(requestWith(b));
      answers.push(d.allow ? 'allow' : d.reason);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect({ control: control.allow, answers }).toEqual({ control: true, answers: Array(5).fill('allow') });
  }, 30_000);
});
