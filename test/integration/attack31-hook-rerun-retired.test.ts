import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack31 (access rights: hooks run, and write, for a key retired mid-request). The attack30 fix checks that the
 * session takes the presented key before the `postAuth` hooks run (`KeyPointers.taken`, `#runPostAuth`), and again
 * before the pipeline re-runs them when the settings changed during counting. But the hooks are also re-run *inside*
 * `HookCalls.postAuth`: when a hook's `updateSession` loses to a concurrent change (`VersionConflictError` →
 * `HookConflict`), the whole chain runs again on the fresh session — with no check that it still takes the key. A
 * rotation (grace 0) landing between the read and the hook's write is such a change: it retires the presented key,
 * and the hook then runs again and its write lands on the session the new key uses. The request is refused
 * (`key_not_found`) only afterwards.
 * Expected: after the rotation that retired the key, no hook runs for it and nothing is written for it.
 */
describe('attack31: the hooks re-run after a conflicting write, for a key the conflict retired', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a31-hook-rerun');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('a key retired by a rotation landing under the hook’s write runs no hook and writes nothing after it', async () => {
    const X = pipelineOn(lambdaClient(), table.tableName);
    const { key: a, keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    let runs = 0;
    let rotatedAt = 0;
    const stamp: GatepassPlugin = {
      name: 'stamp-last-seen',
      async postAuth(ctx) {
        runs++;
        if (runs === 1) {
          // The race, made certain: the admin rotates A out (grace 0) after the hook read the session.
          await X.keys.rotate(aId, { graceSeconds: 0 });
          rotatedAt = (await X.store.get(`key#${aId}`))!.version;
        }
        await ctx.updateSession({ metaData: { lastSeenBy: 'A', run: runs } });
      },
    };
    const answer = await X.pipelineWith([stamp]).authorize(requestWith(a));
    const after = (await X.store.get(`key#${aId}`))!;
    expect({
      answer: answer.allow ? 'allow' : answer.reason,
      runs,
      writtenAfterRotation: after.version !== rotatedAt,
      metaData: after.metaData,
    }).toEqual({ answer: 'key_not_found', runs: 1, writtenAfterRotation: false, metaData: {} });
  }, 30_000);
});
