import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack31 (access rights: a key of a deleted session has hooks run, and written, on another life). A rotated-in key
 * B's request reads the session S (key#A) through B's pointer; its `postAuth` hook calls `updateSession`. Meanwhile the
 * admin deletes A (ending S and B's pointer) and imports the raw key A again: a new life at key#A that never named
 * B. The hook's write is refused (`NotFoundError`: another life), `HookCalls.#update` reads what is at key#A now and
 * the whole chain runs again on it (`HookConflict`) — without checking that it takes B — and the hook's write lands
 * on the new life of A, for a request of the deleted session's key B. The request is refused only afterwards.
 * Expected: once the session is gone, no hook runs for B and nothing is written for it.
 */
describe('attack31: the hooks re-run on a new life of the session for a key of the deleted one', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a31-hook-rerun-life');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('a deleted session’s rotated-in key writes nothing on the session created again under the old key', async () => {
    const X = pipelineOn(lambdaClient(), table.tableName);
    const { key: a, keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    const { key: b } = await X.keys.rotate(aId, { graceSeconds: 3600 });
    let runs = 0;
    const stamp: GatepassPlugin = {
      name: 'stamp-last-seen',
      async postAuth(ctx) {
        runs++;
        if (runs === 1) {
          // The race, made certain: A deleted (B's pointer with it), then the raw key A imported again.
          await X.keys.delete(aId);
          await X.keys.create({ key: a, quotaMax: 5, quotaRenewalRate: 3600 });
        }
        await ctx.updateSession({ metaData: { lastSeenBy: 'B', run: runs } });
      },
    };
    const answer = await X.pipelineWith([stamp]).authorize(requestWith(b));
    const newLife = (await X.store.get(`key#${aId}`))!;
    expect({ answer: answer.allow ? 'allow' : answer.reason, runs, metaData: newLife.metaData }).toEqual({
      answer: 'key_not_found',
      runs: 1,
      metaData: {},
    });
  }, 30_000);
});
