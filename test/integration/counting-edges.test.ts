import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { VersionConflictError } from '../../lambdas/core/model/errors.ts';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

// Real time (whole seconds): DynamoDB Local deletes items whose TTL has passed.
const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
const NOW = NOW_MS / 1000;

/**
 * The edges of the counting model, each one a way an outside review broke it: hooks that must
 * judge again, admin writes that must not rewind counters, lost answers to settings writes,
 * scope changes. On DynamoDB Local.
 */
describe('the counting model at its edges', () => {
  let table: TestTable;
  let doc: DynamoDBDocumentClient;
  let store: SessionStore;
  let keys: KeyService;
  let policies: PolicyStore;

  beforeAll(async () => {
    table = await createTestTable('counting-edges');
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    keys = new KeyService(store, () => NOW, { policies });
  });
  afterAll(async () => {
    await table.drop();
  });

  /**
   * Writes a session item straight into the table, as an older release (or a hand) left it,
   * for the raw key returned: the base fields of an active key without limits, then `fields`.
   */
  async function putRawItem(name: string, fields: Record<string, unknown>): Promise<{ raw: string; keyId: string }> {
    const raw = `gp_${name}-${Math.random()}`;
    const keyId = keyIdOf(raw);
    const base = { pk: keySessionPk(keyId), kind: 'key', keyId, version: 4, createdAt: NOW - 100, updatedAt: NOW - 100 };
    const settings = { expires: 0, rate: 0, per: 0, accessRights: {}, applyPolicies: [], metaData: {}, tags: [], isInactive: false };
    await doc.send(new PutCommand({ TableName: table.tableName, Item: { ...base, ...settings, ...fields } }));
    return { raw, keyId };
  }

  function pipelineWith(options: { plugins?: GatepassPlugin[]; clock?: () => number; store?: SessionStore } = {}): Pipeline {
    const config = parseConfig(JSON.stringify({ tableName: table.tableName }));
    return new Pipeline({
      config,
      store: options.store ?? store,
      log: silentLog,
      clock: options.clock ?? (() => NOW_MS),
      plugins: options.plugins ?? [],
      policies,
    });
  }

  it('runs postAuth hooks on the session an auth hook answered', async () => {
    const token = `tok-${Math.random()}-padding`;
    await keys.create({ key: token, quotaMax: 100, tags: ['silver'] }); // the session exists already
    const auth: GatepassPlugin = {
      name: 'auth',
      auth: (ctx) => ({ key: ctx.request.headers['x-token']!, createSession: { quotaMax: 100 } }),
    };
    const authKeyOnly: GatepassPlugin = { name: 'auth', auth: (ctx) => ({ key: ctx.request.headers['x-token']! }) };
    const goldOnly: GatepassPlugin = {
      name: 'gold-only',
      postAuth: (ctx) => (ctx.session.tags.includes('gold') ? undefined : { deny: { reason: 'not_gold', message: 'Gold only' } }),
    };
    const req = requestWith(undefined, { headers: { 'x-token': token } });

    const control = await pipelineWith({ plugins: [authKeyOnly, goldOnly] }).authorize(req);
    const decision = await pipelineWith({ plugins: [auth, goldOnly] }).authorize(req);

    expect(control).toMatchObject({ allow: false, reason: 'not_gold' });
    expect(decision).toMatchObject({ allow: false, reason: 'not_gold' });
  });

  it('runs postAuth hooks again when an admin write lands between their check and the counting write', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 100, tags: ['gold'] });
    let release!: () => void;
    const adminMayWrite = new Promise<void>((resolve) => (release = resolve));
    let checked!: () => void;
    const hookChecked = new Promise<void>((resolve) => (checked = resolve));
    const goldOnly: GatepassPlugin = {
      name: 'gold-only',
      async postAuth(ctx) {
        const gold = ctx.session.tags.includes('gold');
        checked();
        await adminMayWrite; // the request is in flight; the admin's write lands now
        return gold ? undefined : { deny: { reason: 'not_gold', message: 'Gold only' } };
      },
    };
    const pending = pipelineWith({ plugins: [goldOnly] }).authorize(requestWith(key));
    await hookChecked;
    await keys.update(keyId, { tags: ['silver'] }); // downgrade: lands, and is answered, before the request is counted
    release();
    const decision = await pending;

    // The count write fails on the version; the hooks judge the silver session again.
    expect(decision).toMatchObject({ allow: false, reason: 'not_gold' });
  });

  it("lets plugins see and set the key's own quota, never an API's own counter under the key's name", async () => {
    const { key, keyId } = await keys.create({ quotaMax: 100, accessRights: { api1: { limit: { quotaMax: 5, quotaRenewalRate: 3600 } } } });
    let seen: number | undefined;
    const cutOff: GatepassPlugin = {
      name: 'cut-off',
      async postAuth(ctx) {
        seen ??= ctx.session.quotaRemaining;
        if (ctx.session.quotaRemaining !== 0) await ctx.updateSession({ quotaRemaining: 0 });
      },
    };
    const decision = await pipelineWith({ plugins: [cutOff] }).authorize(requestWith(key));

    // The plugin saw the key's own 100 and set the key's own counter to used up (100 of 100);
    // api1 is counted in its own scope, which the plugin did not touch.
    expect(seen).toBe(100);
    expect(await store.get(keySessionPk(keyId))).toMatchObject({ quotaUsed: 100 });
    expect(decision).toMatchObject({ allow: true, context: { quotaMax: 5, quotaRemaining: 4 } });
  });

  it("measures windows with the deciding instance's clock: a window is short by at most the clock spread between instances", async () => {
    const { key } = await keys.create({ rate: 2, per: 10 });
    let real = NOW_MS + 1_000_000;
    const behind = pipelineWith({ clock: () => real - 5_000 }); // 5 s behind
    const exact = pipelineWith({ clock: () => real });

    const first = [await behind.authorize(requestWith(key)), await behind.authorize(requestWith(key))];
    real += 5_000; // 5 real seconds later: the window "behind" opened has 10 s on its own clock but ends now
    const second = [await exact.authorize(requestWith(key)), await exact.authorize(requestWith(key))];

    const allowed = [...first, ...second].filter((d) => d.allow).length;
    // The documented bound: a spread of S seconds between instances may shorten a window by S.
    expect(allowed).toBe(4);
  });

  it('keeps the count when a never-renewing quota starts to renew: its window runs from the change', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 3, quotaRenewalRate: 0 });
    const pipeline = pipelineWith();
    for (let i = 0; i < 4; i++) await pipeline.authorize(requestWith(key));
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'quota_exceeded' });

    await keys.update(keyId, { quotaRenewalRate: 30 * 86_400 }); // "a new window length applies from the next window"

    const after = [];
    for (let i = 0; i < 4; i++) after.push(await pipeline.authorize(requestWith(key)));
    expect(after.filter((d) => d.allow)).toHaveLength(0);
    expect((await keys.get(keyId)).quotaRenews).toBe(NOW + 30 * 86_400);
  });

  it("refuses a plugin's rate without per (a fault, never an unlimited key)", async () => {
    const { key } = await keys.create({});
    let t = NOW_MS;
    const throttle: GatepassPlugin = {
      name: 'throttle',
      async postAuth(ctx) {
        if (ctx.session.rate !== 2) await ctx.updateSession({ rate: 2 });
      },
    };
    const pipeline = pipelineWith({ plugins: [throttle], clock: () => (t += 1) });
    await expect(pipeline.authorize(requestWith(key))).rejects.toThrow(/per: must be greater than 0/);
  });

  it("recognises a plugin's write re-sent after a lost answer, instead of applying it twice", async () => {
    let dropped = 0;
    const lossy = lossyStore(async () => {
      dropped++;
    });
    const { key, keyId } = await keys.create({ quotaMax: 100, quotaRemaining: 0, quotaRenewalRate: 3600 });
    // A top-up plugin: a request carrying a voucher adds 10 requests to the quota.
    const topUp: GatepassPlugin = {
      name: 'top-up',
      async postAuth(ctx) {
        if (ctx.request.headers['x-voucher']) await ctx.updateSession({ quotaRemaining: ctx.session.quotaRemaining + 10 });
      },
    };
    await pipelineWith({ plugins: [topUp], store: lossy }).authorize(
      requestWith(key, { headers: { authorization: key, 'x-voucher': 'v1' } }),
    );

    expect(dropped).toBe(1);
    expect((await keys.get(keyId)).quotaRemaining).toBe(9);
  });

  it('counts an API that gets limits of its own in a scope of its own, from zero (documented)', async () => {
    await policies.put(
      'p-scope',
      PolicyFieldsSchema.parse({
        accessRights: { api1: {} },
        quotaMax: 3,
        quotaRenewalRate: 3600,
      }),
    );
    const { key } = await keys.create({ applyPolicies: ['p-scope'] });
    const pipeline = pipelineWith();
    const before = [];
    for (let i = 0; i < 4; i++) before.push(await pipeline.authorize(requestWith(key)));
    expect(before.filter((d) => d.allow)).toHaveLength(3);

    await policies.put(
      'p-scope',
      PolicyFieldsSchema.parse({
        accessRights: { api1: {} },
        quotaMax: 3,
        quotaRenewalRate: 3600,
        partitions: { perApi: true },
      }),
    );
    const after = [];
    for (let i = 0; i < 4; i++) after.push(await pipeline.authorize(requestWith(key)));
    expect(after.filter((d) => d.allow)).toHaveLength(3);
  });

  it('never rewinds the quota when a body read with GET is saved back with PUT', async () => {
    const { key, keyId } = await keys.create({ alias: 'echo', quotaMax: 10, quotaRenewalRate: 3600 });
    const pipeline = pipelineWith();
    const snapshot = await keys.get(keyId); // an operator's client reads the key…
    const first = [];
    for (let i = 0; i < 10; i++) first.push(await pipeline.authorize(requestWith(key))); // …traffic uses the whole quota…
    expect(first.filter((d) => d.allow)).toHaveLength(10);

    await keys.replace(keyId, { ...snapshot, alias: 'echo-renamed' }, snapshot.version); // …and saves the edited object back, If-Match accepted

    const second = [];
    for (let i = 0; i < 10; i++) second.push(await pipeline.authorize(requestWith(key)));
    expect(second.filter((d) => d.allow)).toHaveLength(0);
    expect(await keys.get(keyId)).toMatchObject({ alias: 'echo-renamed', quotaRemaining: 0 });
  });

  it("guards admin writes by the key's incarnation too: a deleted and re-created key is another key", async () => {
    const raw = `gp_aba-${Math.random()}-padding`;
    const { keyId } = await keys.create({ key: raw, quotaMax: 10 });
    const first = await store.get(keySessionPk(keyId));
    await keys.delete(keyId);
    await keys.create({ key: raw, quotaMax: 10, isInactive: true });

    // A write conditioned on the first key's settings state finds another key.
    await expect(
      store.change(
        keySessionPk(keyId),
        { incarnation: first!.incarnation, version: first!.version },
        { settings: { isInactive: false } },
        NOW,
      ),
    ).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect(await pipelineWith().authorize(requestWith(raw))).toMatchObject({ allow: false, reason: 'key_inactive' });
  });

  it('never allows more than the largest limit while three instances count, an admin patches and a policy flips', async () => {
    await policies.put(
      'p-soak',
      PolicyFieldsSchema.parse({
        quotaMax: 15,
        quotaRenewalRate: 3600,
        rate: 50,
        per: 1,
      }),
    );
    const { key, keyId } = await keys.create({ applyPolicies: ['p-soak'] });
    const config = parseConfig(JSON.stringify({ tableName: table.tableName, policyCacheSeconds: 0 }));
    const instances = [0, 1, 2].map(
      () =>
        new Pipeline({
          config,
          store,
          log: silentLog,
          policies: new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 }),
        }),
    );
    let running = true;
    const admin = (async () => {
      let i = 0;
      while (running) {
        i++;
        await keys.update(keyId, { alias: `a${i}`, tags: [`t${i}`] }).catch(() => undefined);
        await policies
          .put('p-soak', {
            quotaMax: i % 2 ? 20 : 10,
            quotaRenewalRate: 3600,
            rate: 50,
            per: 1,
            accessRights: {},
            keyExpiresIn: 0,
            tags: [],
            metaData: {},
            isInactive: false,
          })
          .catch(() => undefined);
      }
    })();
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => instances[i % 3]!.authorize(requestWith(key)).catch((e: unknown) => e)),
    );
    running = false;
    await admin;
    const allowed = results.filter((d) => (d as { allow?: boolean }).allow === true).length;
    const faults = results.filter((d) => d instanceof Error).length;
    if (faults > 0)
      console.error(
        'FAULTS',
        results
          .filter((d) => d instanceof Error)
          .slice(0, 3)
          .map((e) => String(e)),
      );
    const item = await store.get(keySessionPk(keyId));
    const firstFault = String(results.find((d) => d instanceof Error));
    expect(faults, firstFault).toBeLessThanOrEqual(results.length / 10); // contention on a loaded machine fails closed, never open
    expect(allowed).toBeLessThanOrEqual(20);
    expect(item!.quotaUsed).toBe(allowed);
  });

  it('fails closed on a session item without quotaMax (hand-written, partial restore)', async () => {
    const { raw } = await putRawItem('partial', { version: 1, incarnation: 'x' }); // no quotaMax, no quotaRenewalRate
    await expect(pipelineWith().authorize(requestWith(raw))).rejects.toMatchObject({ code: 'ERR_STORE' });
  });

  it('keeps the count used across a limited, unlimited, limited round trip (as the README says)', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 3, quotaRenewalRate: 3600 });
    const pipeline = pipelineWith();
    for (let i = 0; i < 3; i++) await pipeline.authorize(requestWith(key));
    await keys.update(keyId, { quotaMax: -1 });
    await keys.update(keyId, { quotaMax: 3 });
    expect((await keys.get(keyId)).quotaRemaining).toBe(0);
  });

  /** A store whose first UpdateItem answer is lost after it landed; `between` runs before the SDK re-sends it. */
  function lossyStore(between: () => Promise<void>): SessionStore {
    const client = new DynamoDBClient({ endpoint: dynamoEndpoint(), maxAttempts: 3 });
    let dropped = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        // Settings writes, resets and plugin writes are single-item transactions.
        if (context.commandName === 'TransactWriteItemsCommand' && dropped === 0) {
          dropped++;
          await between();
          throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
        }
        return result;
      },
      { step: 'deserialize', name: 'loseFirstAnswer', priority: 'low' },
    );
    return new SessionStore({
      client: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
      tableName: table.tableName,
      retentionSeconds: 3600,
    });
  }

  it('applies a reset once when its answer is lost and requests are counted before the SDK re-sends it', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 3600 });
    const pipeline = pipelineWith();
    const between: boolean[] = [];
    const lossy = lossyStore(async () => {
      for (let i = 0; i < 10; i++) between.push((await pipeline.authorize(requestWith(key))).allow);
    });
    await new KeyService(lossy, () => NOW, { policies }).resetQuota(keyId);
    const after: boolean[] = [];
    for (let i = 0; i < 10; i++) after.push((await pipeline.authorize(requestWith(key))).allow);

    // One reset grants one quota of 10, wherever the requests fall.
    expect([...between, ...after].filter(Boolean)).toHaveLength(10);
  });

  it('never applies a reset twice, even when its re-sent copy comes after settings writes and other resets', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 3600 });
    const pipeline = pipelineWith();
    const between: boolean[] = [];
    const lossy = lossyStore(async () => {
      for (let i = 0; i < 4; i++) await keys.update(keyId, { tags: [`t${i}`] });
      for (let i = 0; i < 4; i++) await keys.resetQuota(keyId);
      for (let i = 0; i < 10; i++) between.push((await pipeline.authorize(requestWith(key))).allow);
    });
    // The copy finds resets landed since its read: the key was reset after the call began.
    await new KeyService(lossy, () => NOW, { policies }).resetQuota(keyId);
    const after: boolean[] = [];
    for (let i = 0; i < 10; i++) after.push((await pipeline.authorize(requestWith(key))).allow);

    expect([...between, ...after].filter(Boolean)).toHaveLength(10);
  });

  it('resets a quota while settings are written all the time: settings traffic never refuses a reset', async () => {
    const { keyId } = await keys.create({ quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 3600 });
    let writing = true;
    let written = 0;
    const writer = (async () => {
      // A reset moves the version too: an update without If-Match reads again and applies (a few times at most, then 409).
      for (let n = 0; writing; n++)
        await keys.update(keyId, { metaData: { seen: n } }).then(
          () => written++,
          (error: unknown) => {
            if (!(error instanceof VersionConflictError)) throw error;
          },
        );
    })();
    const resets = [];
    for (let i = 0; i < 10; i++)
      resets.push(
        await keys.resetQuota(keyId).then(
          () => 'ok',
          (error: { code?: string }) => error.code,
        ),
      );
    writing = false;
    await writer;

    expect(resets).toEqual(Array(10).fill('ok'));
    expect(written).toBeGreaterThan(0);
  });

  it("recognises a plugin's landed write even when an admin write lands before the SDK re-sends it", async () => {
    const { key, keyId } = await keys.create({ quotaMax: 100, quotaRemaining: 0, quotaRenewalRate: 3600 });
    const lossy = lossyStore(async () => {
      await keys.update(keyId, { alias: 'renamed-meanwhile' });
    });
    // A voucher redeemed once (recorded on the session): the hook runs again when the admin's
    // write lands between its own write and the count, and must then see its voucher spent.
    const topUp: GatepassPlugin = {
      name: 'top-up',
      async postAuth(ctx) {
        const voucher = ctx.request.headers['x-voucher'];
        if (voucher && ctx.session.metaData[`voucher_${voucher}`] !== true) {
          await ctx.updateSession({
            quotaRemaining: ctx.session.quotaRemaining + 10,
            metaData: { ...ctx.session.metaData, [`voucher_${voucher}`]: true },
          });
        }
      },
    };
    await pipelineWith({ plugins: [topUp], store: lossy }).authorize(
      requestWith(key, { headers: { authorization: key, 'x-voucher': 'v1' } }),
    );

    expect(await keys.get(keyId)).toMatchObject({ alias: 'renamed-meanwhile', quotaRemaining: 9 });
  });
});
