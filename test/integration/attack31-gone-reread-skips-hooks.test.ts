import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack31 (access rights: an Allow on a session no `postAuth` hook judged). A rotated-in key B's request reads the
 * session S through B's pointer and runs the hooks on it; a hook's `updateSession` finds S deleted (`HookGone`:
 * nothing at S's key now) and the pipeline goes on with `{ item: undefined }`. `#decideAndCount` then reads B again
 * without the pointer (`KeyPointers.reread`) and — when the raw key B was imported as a key of its own meanwhile —
 * decides and counts on *that* session, which no hook has seen. The loop's `taken` branch refuses such a switch when
 * there are hooks (`taken.who.pk !== who.pk`), but the `item === undefined && pointerPk` branch does not. So a
 * plugin's denial (here: a session the plugin blocks by its metadata) is skipped and the request allowed.
 * The second case needs no hook write: the session ends between the hooks and the count (the count finds none).
 * Expected: the request is decided on a session the hooks judged: here denied by the plugin (or refused).
 */
describe('attack31: a session gone under the hooks is replaced by the key’s own, which no hook judges', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a31-gone-reread');
  });
  afterAll(async () => {
    await table.drop();
  });

  /**
   * A gate that denies a `blocked` session. On its first run it makes the race certain: the session ends (B's pointer
   * with it) and the raw key B is imported, blocked; then it stamps the session (`write`) or not.
   */
  function raceGate(X: ReturnType<typeof pipelineOn>, aId: string, b: string, name: string, write: boolean) {
    const seen = { runs: 0, judged: [] as string[] };
    const gate: GatepassPlugin = {
      name,
      async postAuth(ctx) {
        seen.runs++;
        seen.judged.push(ctx.session.keyId);
        if ((ctx.session.metaData as { blocked?: boolean } | undefined)?.blocked) return { deny: { message: 'blocked' } };
        if (seen.runs === 1) {
          await X.keys.delete(aId);
          await X.keys.create({ key: b, quotaMax: 100, quotaRenewalRate: 3600, metaData: { blocked: true } });
        }
        if (write) await ctx.updateSession({ metaData: { lastSeen: ctx.now } });
        return undefined;
      },
    };
    return { gate, seen };
  }

  it('the plugin’s denial of the imported key’s session is not skipped', async () => {
    const X = pipelineOn(lambdaClient(), table.tableName);
    const { keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    const { key: b, keyId: bId } = await X.keys.rotate(aId, { graceSeconds: 3600 });
    const { gate, seen } = raceGate(X, aId, b, 'gate', true);
    const answer = await X.pipelineWith([gate]).authorize(requestWith(b));
    expect({ answer: answer.allow ? 'allow' : answer.reason, judged: seen.judged }).toEqual({
      answer: expect.not.stringMatching(/^allow$/),
      judged: expect.arrayContaining([aId]),
    });
    // And what the control says: the imported key alone is denied by the plugin.
    const control = await X.pipelineWith([gate]).authorize(requestWith(b));
    expect({ control: control.allow ? 'allow' : control.reason, bId }).toEqual({ control: 'plugin_denied', bId });
  }, 30_000);

  it('without a hook write: the session ends between the hooks and the count', async () => {
    const X = pipelineOn(lambdaClient(), table.tableName);
    const { keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    const { key: b } = await X.keys.rotate(aId, { graceSeconds: 3600 });
    const { gate, seen } = raceGate(X, aId, b, 'gate-read-only', false);
    const answer = await X.pipelineWith([gate]).authorize(requestWith(b));
    expect({ answer: answer.allow ? 'allow' : answer.reason, runs: seen.runs }).toEqual({
      answer: expect.not.stringMatching(/^allow$/),
      runs: expect.any(Number),
    });
  }, 30_000);
});
