import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack31 (access rights: a retired key's request writes the session). The attack30 fix makes `KeyPointers.taken` the
 * one check that a key is one the session takes, and runs it before any `postAuth` hook ("a refused key's request runs
 * none, so no hook writes for a retired key"). But an `auth` hook's `{ key, session }` is written in `identify`,
 * before that check, through `setSession` → `resolveKey`, which answers the session for any key id it still *names*
 * (`namesKey`), retired or not. So a key whose grace is over — the session's first key A, or a rotated-in key B
 * before the next rotation drops it — replaces the settings of the session the current key uses (here: renews its
 * `expires`, which the admin had set to end it), and only then is refused (`key_not_found`).
 * Expected: a request whose key the session refuses writes nothing (the session's version and expiry unchanged).
 */
describe('attack31: an auth hook writes the session for a retired key', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a31-auth-retired');
  });
  afterAll(async () => {
    await table.drop();
  });

  // The Tyk pattern: the auth hook names the presented key and answers its session (renewed).
  const renewOnAuth: GatepassPlugin = {
    name: 'auth-renews',
    auth(ctx) {
      const key = ctx.request.headers.authorization!;
      return { key, session: { quotaMax: 100, quotaRenewalRate: 3600, expires: ctx.now + 3600 } };
    },
  };

  for (const which of ['first key A', 'rotated-in key B'] as const) {
    it(`the retired ${which} renews nothing`, async () => {
      const X = pipelineOn(lambdaClient(), table.tableName);
      const hooked = X.pipelineWith([renewOnAuth]);
      const { key: a, keyId: aId } = await X.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
      const { key: b, keyId: bId } = await X.keys.rotate(aId, { graceSeconds: 0 }); // A retired now
      let retired = a;
      if (which === 'rotated-in key B') {
        await X.keys.rotate(bId, { graceSeconds: 0 }); // B retired now (still named until the next rotation)
        retired = b;
      }
      await new Promise((resolve) => setTimeout(resolve, 1100));
      // The admin lets the session run out in 60 s.
      await X.keys.update(aId, { expires: Math.floor(Date.now() / 1000) + 60 });
      const before = (await X.store.get(`key#${aId}`))!;
      const answer = await hooked.authorize(requestWith(retired));
      const after = (await X.store.get(`key#${aId}`))!;
      expect({
        answer: answer.allow ? 'allow' : answer.reason,
        versionMoved: after.version !== before.version,
        expiresMoved: after.expires !== before.expires,
      }).toEqual({ answer: 'key_not_found', versionMoved: false, expiresMoved: false });
    }, 30_000);
  }
});
