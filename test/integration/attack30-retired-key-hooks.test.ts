import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin, SessionInit } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack30 (access rights: a retired key's requests write sessions). The pipeline runs the `postAuth` hooks in
 * `#start`, on the session the key leads to, before `#decideAndCount` checks that the session still accepts the
 * presented key (`keyAccepted`). So a key retired by a rotation (its grace over) still has every `postAuth` hook run
 * with the session — and a hook that renews by saving back what it read (the Tyk renew pattern, supported on
 * rotated-in keys: attack2-rotation-plugins) writes with it:
 * 1. the retired key's request is refused (`key_not_found`), but its hook has renewed the session first (`expires`
 *    moved: a leaked, retired key keeps the session alive);
 * 2. on an instance that remembers the retired key's pointer (`KeyPointers`, attack30-stale-pointer-import) after a
 *    later rotation ended it, the hook's `sessions.set(presented key, …)` finds no pointer and *creates* a session
 *    under the retired key id, a copy of the one it was rotated out of (settings and count): the retired key works
 *    again on every instance, with a quota of its own — what `key-resolution.ts` says must never happen ("none may be
 *    read, changed or made through the pointer (it would revive the key the rotation retired)").
 * Expected: a request whose key the session refuses runs no hook that writes (or its writes are refused), and a
 * retired key id is never made a session by a hook.
 */
describe('attack30: postAuth hooks run for a retired key', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a30-retired-hooks');
  });
  afterAll(async () => {
    await table.drop();
  });

  const renew: GatepassPlugin = {
    name: 'renew-by-set',
    async postAuth(ctx) {
      if (ctx.session.expires > 0 && ctx.session.expires <= ctx.now + 300)
        await ctx.sessions.set(ctx.request.headers.authorization!, { ...(ctx.session as SessionInit), expires: ctx.now + 3600 });
    },
  };

  it('a retired key’s request renews nothing', async () => {
    const X = pipelineOn(lambdaClient(), table.tableName);
    const hooked = X.pipelineWith([renew]);
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const { keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600, expires });
    const { key: b, keyId: bId } = await X.keys.rotate(aId, { graceSeconds: 0 });
    await X.keys.rotate(bId, { graceSeconds: 0 }); // B retired now
    // The admin lets the session run out in 60 s (the owner's decision).
    await X.keys.update(aId, { expires: Math.floor(Date.now() / 1000) + 60 });
    const before = (await X.store.get(`key#${aId}`))!;
    const answer = await hooked.authorize(requestWith(b));
    const after = (await X.store.get(`key#${aId}`))!;
    expect({ answer: answer.allow ? 'allow' : answer.reason, expiresMoved: after.expires !== before.expires }).toEqual({
      answer: 'key_not_found',
      expiresMoved: false,
    });
  });

  it('a retired key whose pointer has ended is not made a key again through a remembered pointer', async () => {
    const X = pipelineOn(lambdaClient(), table.tableName);
    const hooked = X.pipelineWith([renew]);
    const { key: a, keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    expect(await X.pipeline.authorize(requestWith(a))).toMatchObject({ allow: true });
    const { key: b, keyId: bId } = await X.keys.rotate(aId, { graceSeconds: 0 });
    expect(await hooked.authorize(requestWith(b))).toMatchObject({ allow: true }); // X remembers B's pointer
    const { keyId: cId } = await X.keys.rotate(bId, { graceSeconds: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await X.keys.rotate(cId, { graceSeconds: 0 }); // B's grace is over: this rotation ends its pointer
    expect(await X.store.get(`key#${bId}`)).toBeUndefined();
    // The session is near its end: the renew hook will save it back under the presented key.
    await X.keys.update(aId, { expires: Math.floor(Date.now() / 1000) + 60 });
    const onX = await hooked.authorize(requestWith(b));
    const fresh = pipelineOn(lambdaClient(), table.tableName);
    let allowed = 0;
    for (let i = 0; i < 5; i++) if ((await fresh.pipeline.authorize(requestWith(b))).allow) allowed++;
    const made = await X.store.get(`key#${bId}`);
    expect({ onX: onX.allow ? 'allow' : onX.reason, made: made?.pk, allowedElsewhere: allowed }).toEqual({
      onX: 'key_not_found',
      made: undefined,
      allowedElsewhere: 0,
    });
  });
});
