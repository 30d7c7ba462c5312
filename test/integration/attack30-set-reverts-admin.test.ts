import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyService } from '../../lambdas/admin/key-service.ts';
import type { GatepassPlugin, SessionInit } from '../../lambdas/core/plugins/plugin.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack30 (stale decision and over-grant through a plugin's whole-session write): the documented forum pattern — a
 * postAuth hook renews the session by saving back what it read (`sessions.set(ownKey, { ...session, expires })`,
 * TykSetKeyData) — is supported, and counters are safe under it ("a plugin that saves back the session it read never
 * gives quota back", `SessionService.put`). But its settings are not guarded by the version the hook read: `put` reads
 * the key again and replaces whatever is there. An admin's change that lands between the hook's read and its write is
 * undone: a deactivated key is active again (and this very request, decided on what the hook wrote, is allowed after
 * the deactivation landed); a lowered quota is raised back, and the key is allowed past the admin's new limit; a key
 * the admin deleted is made again (`put` creates what it does not find), its raw key working with the count of the
 * hook's copy.
 * Expected: an admin change that landed before the request's counting write is never undone by a write made from a
 * view older than it (the request is decided on the admin's settings: denied; the key stays inactive / at its new
 * quota). `updateSession` is conditioned on the version the hook saw; `sessions.set` is not.
 */
describe('attack30: a hook saving back the session it read undoes an admin change made meanwhile', () => {
  let table: TestTable;
  let keys: KeyService;
  let pipelineWith: (plugins?: readonly GatepassPlugin[]) => Pipeline;
  let store: ReturnType<typeof pipelineOn>['store'];

  beforeAll(async () => {
    table = await createTestTable('a30-set-reverts');
    ({ keys, pipelineWith, store } = pipelineOn(table.client, table.tableName));
  });
  afterAll(async () => {
    await table.drop();
  });

  /** A hook that renews by saving back what it read, once the test releases it; and the request it runs in. */
  function renewing(key: string) {
    let read!: () => void;
    const hookRead = new Promise<void>((resolve) => (read = resolve));
    let release!: () => void;
    const mayWrite = new Promise<void>((resolve) => (release = resolve));
    let once = false;
    const renew: GatepassPlugin = {
      name: 'renew-by-set',
      async postAuth(ctx) {
        if (once) return;
        once = true;
        const seen = ctx.session;
        read();
        await mayWrite;
        await ctx.sessions.set(ctx.request.headers.authorization!, { ...(seen as SessionInit), expires: ctx.now + 600 });
      },
    };
    const pending = pipelineWith([renew])
      .authorize(requestWith(key))
      .then(
        (d) => (d.allow ? 'allow' : d.reason),
        (e: Error) => `500 ${e.name}`,
      );
    return { hookRead, release, pending };
  }

  it('a save-back with nothing changed meanwhile renews the key (the ordinary case)', async () => {
    const expires = Math.floor(Date.now() / 1000) + 60;
    const { key, keyId } = await keys.create({ quotaMax: 100, quotaRenewalRate: 3600, expires });
    const { hookRead, release, pending } = renewing(key);
    await hookRead;
    release();
    const answer = await pending;
    const stored = await keys.get(keyId);
    expect({ answer, renewed: stored.expires > expires + 500, version: stored.version, quotaMax: stored.quotaMax }).toEqual({
      answer: 'allow',
      renewed: true,
      version: 2,
      quotaMax: 100,
    });
  });

  it('a deactivation landing while the hook runs stays in force', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 100, quotaRenewalRate: 3600, expires: Math.floor(Date.now() / 1000) + 60 });
    const { hookRead, release, pending } = renewing(key);
    await hookRead;
    await keys.update(keyId, { isInactive: true }); // landed: the key is off
    release();
    const answer = await pending;
    const after = await pipelineWith().authorize(requestWith(key));
    const stored = await keys.get(keyId);
    expect({ answer, after: after.allow ? 'allow' : after.reason, isInactive: stored.isInactive }).toEqual({
      answer: 'key_inactive',
      after: 'key_inactive',
      isInactive: true,
    });
  });

  it('a key deleted while the hook runs stays deleted (its raw key refused)', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 100, quotaRenewalRate: 3600, expires: Math.floor(Date.now() / 1000) + 60 });
    const plain = pipelineWith();
    for (let i = 0; i < 5; i++) expect(await plain.authorize(requestWith(key))).toMatchObject({ allow: true });
    const { hookRead, release, pending } = renewing(key);
    await hookRead;
    await keys.delete(keyId); // the admin revokes the key
    release();
    const answer = await pending;
    let allowed = 0;
    for (let i = 0; i < 10; i++) if ((await plain.authorize(requestWith(key))).allow) allowed++;
    const stored = await store.get(`key#${keyId}`);
    expect({ answer, allowed, exists: stored !== undefined }).toEqual({ answer: 'key_not_found', allowed: 0, exists: false });
  });

  it('a quota lowered while the hook runs is the limit from then on', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 100, quotaRenewalRate: 3600, expires: Math.floor(Date.now() / 1000) + 60 });
    const plain = pipelineWith();
    for (let i = 0; i < 5; i++) expect(await plain.authorize(requestWith(key))).toMatchObject({ allow: true });
    const { hookRead, release, pending } = renewing(key);
    await hookRead;
    await keys.update(keyId, { quotaMax: 5 }); // 5 used: nothing more in this window
    release();
    const answer = await pending;
    let allowed = answer === 'allow' ? 1 : 0;
    for (let i = 0; i < 20; i++) if ((await plain.authorize(requestWith(key))).allow) allowed++;
    const stored = await keys.get(keyId);
    expect({ allowed, quotaMax: stored.quotaMax }).toEqual({ allowed: 0, quotaMax: 5 });
  });
});
