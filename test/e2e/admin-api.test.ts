import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../lambdas/core/model/keys.ts';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';
import { scanAll } from '../support/dynamo.ts';

// eslint-free project: `any` keeps JSON bodies readable in assertions.
type Json = Record<string, any>;

describe('the admin API over HTTP', () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev();
  });
  afterAll(async () => {
    await dev?.stop();
  });

  async function call(
    method: string,
    route: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Json }> {
    const res = await fetch(dev.adminUrl + route, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
  }

  const fields = (body: Json): string[] => (body.error.details as Array<{ field: string }>).map((d) => d.field).sort();
  const snapshot = async (): Promise<string> =>
    JSON.stringify((await scanAll(dev.tableName)).sort((a, b) => String(a.pk).localeCompare(String(b.pk))));

  /** Asserts that `act` leaves every item in the table exactly as it was. */
  async function writesNothing(act: () => Promise<unknown>): Promise<void> {
    const before = await snapshot();
    await act();
    expect(await snapshot()).toBe(before);
  }

  async function spend(key: string, times: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < times; i++) statuses.push((await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } })).status);
    return statuses;
  }

  describe('POST /keys', () => {
    it("creates a key with a new session's defaults", async () => {
      const res = await call('POST', '/keys', { alias: 'defaults' });

      expect(res.status).toBe(201);
      expect(res.body.key).toMatch(/^gp_/);
      expect(res.body.session).toMatchObject({
        keyId: keyIdOf(res.body.key),
        alias: 'defaults',
        expires: 0,
        quotaMax: -1,
        rate: 0,
        version: 1,
        isInactive: false,
      });
    });

    it("imports a caller's key and answers 409 already_exists for the same key again, writing nothing", async () => {
      const key = `imported-${Date.now()}-abcdefgh`;
      const first = await call('POST', '/keys', { key, quotaMax: 5 });
      let again: { status: number; body: Json } | undefined;
      await writesNothing(async () => (again = await call('POST', '/keys', { key, quotaMax: 9 })));

      expect(first.status).toBe(201);
      expect(first.body.keyId).toBe(keyIdOf(key));
      expect(again!.status).toBe(409);
      expect(again!.body.error.code).toBe('already_exists');
      expect((await call('GET', `/keys/${keyIdOf(key)}`)).body.quotaMax).toBe(5);
    });

    it('answers 400 naming a short imported key with every other bad field, writing nothing', async () => {
      let res: { status: number; body: Json } | undefined;
      await writesNothing(
        async () => (res = await call('POST', '/keys', { key: 'short', quotaMax: 'x', color: 'red', quotaRenewalRate: 1e15 })),
      );

      expect(res!.status).toBe(400);
      expect(fields(res!.body)).toEqual(['color', 'key', 'quotaMax', 'quotaRenewalRate']);
    });

    it('answers 400 for invalid JSON or a body that is not an object, 413 over 64 KiB, 415 for text', async () => {
      await writesNothing(async () => {
        const invalid = await call('POST', '/keys', '{"alias":');
        const array = await call('POST', '/keys', [1, 2]);
        const big = await call('POST', '/keys', { tags: ['x'.repeat(66 * 1024)] });
        const text = await call('POST', '/keys', undefined, { 'content-type': 'text/plain' });

        expect([invalid.status, array.status, big.status, text.status]).toEqual([400, 400, 413, 415]);
        expect([invalid.body.error.code, array.body.error.code, big.body.error.code, text.body.error.code]).toEqual([
          'invalid_json',
          'invalid_fields',
          'payload_too_large',
          'unsupported_media_type',
        ]);
        expect(fields(array.body)).toEqual(['(body)']);
      });
    });
  });

  it('answers 400 for a __proto__ name anywhere in a body (zod would drop it: rights for every API), writing nothing', async () => {
    let res: { status: number; body: Json } | undefined;
    await writesNothing(
      async () => (res = await call('POST', '/keys', '{"accessRights": {"__proto__": {}}, "metaData": {"__proto__": "x"}}')),
    );

    expect(res!.status).toBe(400);
    expect(fields(res!.body)).toEqual(['accessRights.__proto__', 'metaData.__proto__']);
  });

  it('answers 400 for numbers that could not be stored, writing nothing', async () => {
    let res: { status: number; body: Json } | undefined;
    await writesNothing(
      async () =>
        (res = await call('POST', '/keys', '{"metaData": {"big": 1e200, "tiny": 1e-200, "unsafe": 9007199254740993, "ok": 2.5}}')),
    );

    expect(res!.status).toBe(400);
    expect(fields(res!.body)).toEqual(['metaData.big', 'metaData.tiny', 'metaData.unsafe']);
  });

  describe('GET /keys/{keyId}', () => {
    it('answers 200 with the session, 404 for an unknown or malformed id, 405 for a method with no route', async () => {
      const { keyId } = await createKey(dev, { alias: 'read-me' });

      const found = await call('GET', `/keys/${keyId}`);
      const unknown = await call('GET', `/keys/${'0'.repeat(64)}`);
      const malformed = await call('GET', '/keys/not-a-key-id');
      const wrongMethod = await call('PATCH', '/keys', {});

      expect(found.status).toBe(200);
      expect(found.body).toMatchObject({ keyId, alias: 'read-me' });
      expect(found.body).not.toHaveProperty('pk');
      expect([unknown.status, malformed.status, wrongMethod.status]).toEqual([404, 404, 405]);
      expect(unknown.body.error.code).toBe('not_found');
    });
  });

  describe('PATCH /keys/{keyId}', () => {
    it('changes only the fields given and increments the version', async () => {
      const { keyId } = await createKey(dev, { alias: 'patch-me', quotaMax: 10, tags: ['a'] });

      const res = await call('PATCH', `/keys/${keyId}`, { rate: 5, per: 60 });

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ alias: 'patch-me', quotaMax: 10, tags: ['a'], rate: 5, per: 60, version: 2 });
    });

    it('answers 409 version_conflict with the current version for a stale If-Match, writing nothing', async () => {
      const { keyId } = await createKey(dev);
      await call('PATCH', `/keys/${keyId}`, { alias: 'v2' });
      let res: { status: number; body: Json } | undefined;

      await writesNothing(async () => (res = await call('PATCH', `/keys/${keyId}`, { alias: 'stale' }, { 'If-Match': '1' })));

      expect(res!.status).toBe(409);
      expect(res!.body.error).toMatchObject({ code: 'version_conflict', details: { currentVersion: 2 } });
    });

    it('applies a matching If-Match', async () => {
      const { keyId } = await createKey(dev);

      const res = await call('PATCH', `/keys/${keyId}`, { alias: 'matched' }, { 'If-Match': '"1"' });

      expect(res.status).toBe(200);
      expect(res.body.version).toBe(2);
    });

    it('answers 400 naming every bad field, 400 for a bad If-Match, 404 for an unknown key — writing nothing', async () => {
      const { keyId } = await createKey(dev);
      await writesNothing(async () => {
        const bad = await call('PATCH', `/keys/${keyId}`, { quotaMax: -7, tags: 'x', nope: 1 });
        const ratePer = await call('PATCH', `/keys/${keyId}`, { rate: 5 });
        const ifMatch = await call('PATCH', `/keys/${keyId}`, { alias: 'x' }, { 'If-Match': 'latest' });
        const unknown = await call('PATCH', `/keys/${'1'.repeat(64)}`, { alias: 'x' });

        expect(bad.status).toBe(400);
        expect(fields(bad.body)).toEqual(['nope', 'quotaMax', 'tags']);
        expect(ratePer.status).toBe(400);
        expect(fields(ratePer.body)).toEqual(['per']);
        expect(ifMatch.status).toBe(400);
        expect(unknown.status).toBe(404);
      });
    });

    it('lets exactly one of 10 concurrent PATCHes with the same If-Match through; the other nine get 409', async () => {
      const { keyId } = await createKey(dev, { alias: 'contended' });

      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => call('PATCH', `/keys/${keyId}`, { alias: `writer-${i}` }, { 'If-Match': '1' })),
      );

      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, ...Array(9).fill(409)]);
      const winner = results.find((r) => r.status === 200)!.body.alias;
      expect(results.filter((r) => r.status === 409).every((r) => r.body.error.details.currentVersion === 2)).toBe(true);
      expect((await call('GET', `/keys/${keyId}`)).body).toMatchObject({ alias: winner, version: 2 });
    });
  });

  describe('PUT /keys/{keyId}', () => {
    it('replaces the settings with defaults for omitted fields, keeping createdAt and the quota counter', async () => {
      const { key, keyId, session } = await createKey(dev, {
        alias: 'old',
        quotaMax: 10,
        quotaRenewalRate: 3600,
        tags: ['t'],
        metaData: { a: 1 },
      });
      expect(await spend(key, 3)).toEqual([200, 200, 200]);

      const res = await call('PUT', `/keys/${keyId}`, { quotaMax: 10, quotaRenewalRate: 3600, rate: 2, per: 1 });

      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('alias');
      expect(res.body).toMatchObject({
        quotaMax: 10,
        quotaRemaining: 7,
        quotaRenews: session.quotaRenews,
        rate: 2,
        per: 1,
        tags: [],
        metaData: {},
        createdAt: session.createdAt,
        version: 2,
      });
    });

    it('caps the kept quota counter at a lowered quotaMax', async () => {
      const { keyId } = await createKey(dev, { quotaMax: 10 });

      const res = await call('PUT', `/keys/${keyId}`, { quotaMax: 4 });

      expect(res.body).toMatchObject({ quotaMax: 4, quotaRemaining: 4 });
    });

    it('answers 409 for a stale If-Match, 404 for an unknown key, 400 naming bad fields, 415 for text — writing nothing', async () => {
      const { keyId } = await createKey(dev);
      await writesNothing(async () => {
        const stale = await call('PUT', `/keys/${keyId}`, { alias: 'x' }, { 'If-Match': '5' });
        const unknown = await call('PUT', `/keys/${'2'.repeat(64)}`, { alias: 'x' });
        const bad = await call('PUT', `/keys/${keyId}`, { expires: -1, accessRights: { api: { allowedUrls: [{ url: '(' }] } } });
        const text = await call('PUT', `/keys/${keyId}`, undefined, { 'content-type': 'text/plain' });

        expect([stale.status, unknown.status, bad.status, text.status]).toEqual([409, 404, 400, 415]);
        expect(stale.body.error.details).toEqual({ currentVersion: 1 });
        expect(fields(bad.body)).toEqual(['accessRights.api.allowedUrls.0.url', 'expires']);
      });
    });
  });

  describe('DELETE /keys/{keyId}', () => {
    it('answers 204, then 404; a stale If-Match gets 409 and leaves the key', async () => {
      const { keyId } = await createKey(dev);

      const stale = await call('DELETE', `/keys/${keyId}`, undefined, { 'If-Match': '3' });
      const still = await call('GET', `/keys/${keyId}`);
      const deleted = await call('DELETE', `/keys/${keyId}`, undefined, { 'If-Match': '1' });
      const again = await call('DELETE', `/keys/${keyId}`);

      expect([stale.status, still.status, deleted.status, again.status]).toEqual([409, 200, 204, 404]);
    });
  });

  describe('POST /keys/{keyId}/reset-quota', () => {
    it('restores the full quota and opens a new window now', async () => {
      const { key, keyId } = await createKey(dev, { quotaMax: 2, quotaRenewalRate: 600 });
      expect(await spend(key, 3)).toEqual([200, 200, 403]);
      const before = Math.floor(Date.now() / 1000);

      const res = await call('POST', `/keys/${keyId}/reset-quota`);

      expect(res.status).toBe(200);
      expect(res.body.quotaRemaining).toBe(2);
      expect(res.body.quotaRenews).toBeGreaterThanOrEqual(before + 600);
      expect(res.body.quotaRenews).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 600);
      expect(await spend(key, 3)).toEqual([200, 200, 403]);
    });

    it("restores the quota of the key's policies when it has any", async () => {
      await call('PUT', '/policies/reset-gold', { quotaMax: 5, quotaRenewalRate: 60 });
      const { key, keyId } = await createKey(dev, { applyPolicies: ['reset-gold'], quotaMax: 1 });
      await spend(key, 5);

      const res = await call('POST', `/keys/${keyId}/reset-quota`);

      expect(res.body.quotaRemaining).toBe(5);
    });

    it('answers 409 for a stale If-Match and 404 for an unknown key, writing nothing', async () => {
      const { keyId } = await createKey(dev, { quotaMax: 3 });
      await writesNothing(async () => {
        const stale = await call('POST', `/keys/${keyId}/reset-quota`, undefined, { 'If-Match': '9' });
        const unknown = await call('POST', `/keys/${'3'.repeat(64)}/reset-quota`);

        expect([stale.status, unknown.status]).toEqual([409, 404]);
        expect(stale.body.error.code).toBe('version_conflict');
      });
    });
  });

  describe('GET /keys', () => {
    it('finds keys by alias through the alias index, a page at a time', async () => {
      const alias = `team-${Date.now()}`;
      const made = [await createKey(dev, { alias }), await createKey(dev, { alias }), await createKey(dev, { alias })];
      await createKey(dev, { alias: `${alias}-other` });

      const first = await call('GET', `/keys?alias=${alias}&limit=2`);
      const second = await call('GET', `/keys?alias=${alias}&limit=2&cursor=${first.body.cursor}`);

      expect(first.status).toBe(200);
      expect(first.body.items).toHaveLength(2);
      expect(typeof first.body.cursor).toBe('string');
      const ids = [...first.body.items, ...second.body.items].map((s: Json) => s.keyId).sort();
      expect(ids).toEqual(made.map((m) => m.keyId).sort());
      expect(second.body.items.every((s: Json) => s.alias === alias && !('pk' in s))).toBe(true);
    });

    it('lists every key through the kind index, following cursors to the end', async () => {
      const made = [await createKey(dev), await createKey(dev)];
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { status: number; body: Json } = await call('GET', `/keys?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(7);
        seen.push(...res.body.items.map((s: Json) => s.keyId));
        cursor = res.body.cursor;
        pages++;
      } while (cursor !== null && pages < 100);

      expect(seen).toEqual(expect.arrayContaining(made.map((m) => m.keyId)));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual([...seen].sort());
    });

    it('answers 400 naming a bad limit, a garbage or mismatched cursor and unknown parameters', async () => {
      const page = await call('GET', '/keys?alias=someone&limit=1');
      await createKey(dev, { alias: 'someone' });
      await createKey(dev, { alias: 'someone' });
      const withCursor = await call('GET', '/keys?alias=someone&limit=1');

      const results = await Promise.all([
        call('GET', '/keys?limit=0'),
        call('GET', '/keys?limit=101'),
        call('GET', '/keys?limit=ten'),
        call('GET', '/keys?cursor=!!!'),
        call('GET', `/keys?cursor=${Buffer.from('{"pk":"key#x"}').toString('base64url')}`),
        call('GET', `/keys?cursor=${withCursor.body.cursor}`),
        call('GET', '/keys?sort=desc'),
      ]);

      expect(page.status).toBe(200);
      expect(results.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400, 400]);
      expect(results.map((r) => fields(r.body))).toEqual([['limit'], ['limit'], ['limit'], ['cursor'], ['cursor'], ['cursor'], ['sort']]);
    });
  });

  describe('policies', () => {
    it('creates, replaces, reads, lists and deletes a policy', async () => {
      const created = await call('PUT', '/policies/e2e-gold', { name: 'Gold', rate: 10, per: 1 });
      const replaced = await call('PUT', '/policies/e2e-gold', { quotaMax: 100, quotaRenewalRate: 3600 }, { 'If-Match': '1' });
      const read = await call('GET', '/policies/e2e-gold');
      const listed = await call('GET', '/policies');
      const deleted = await call('DELETE', '/policies/e2e-gold');
      const gone = await call('GET', '/policies/e2e-gold');

      expect([created.status, replaced.status, read.status, listed.status, deleted.status, gone.status]).toEqual([
        200, 200, 200, 200, 204, 404,
      ]);
      expect(created.body).toMatchObject({ id: 'e2e-gold', name: 'Gold', rate: 10, version: 1 });
      expect(replaced.body).toMatchObject({ quotaMax: 100, version: 2 });
      // A replace drops what the new body leaves out: the name, and the rate it no longer sets.
      expect(replaced.body).not.toHaveProperty('name');
      expect(replaced.body).not.toHaveProperty('rate');
      expect(listed.body.items.map((p: Json) => p.id)).toContain('e2e-gold');
    });

    it('answers 409 for If-None-Match: * on an existing policy and a stale If-Match, 400 naming a bad id and bad fields — writing nothing', async () => {
      await call('PUT', '/policies/e2e-silver', { rate: 5, per: 1 });
      await writesNothing(async () => {
        const exists = await call('PUT', '/policies/e2e-silver', {}, { 'If-None-Match': '*' });
        const stale = await call('PUT', '/policies/e2e-silver', {}, { 'If-Match': '4' });
        const bad = await call('PUT', '/policies/bad%20id', { rate: 'x', per: 1e15 });
        const staleDelete = await call('DELETE', '/policies/e2e-silver', undefined, { 'If-Match': '4' });

        expect([exists.status, stale.status, bad.status, staleDelete.status]).toEqual([409, 409, 400, 409]);
        expect(fields(bad.body)).toEqual(['id', 'per', 'rate']);
      });
    });
  });

  describe('GET /keys/{keyId}/explain', () => {
    const target = 'apiId=local&stage=dev';

    it('explains an allow without consuming anything', async () => {
      const { keyId } = await createKey(dev, { quotaMax: 5, rate: 3, per: 10 });

      const res = await call('GET', `/keys/${keyId}/explain?${target}&method=get&path=/pets`);
      const after = await call('GET', `/keys/${keyId}`);

      expect(res.status).toBe(200);
      expect(res.body.decision).toBe('allow');
      expect(res.body.checks.map((c: Json) => [c.check, c.outcome])).toEqual([
        ['policies', 'pass'],
        ['inactive', 'pass'],
        ['expiry', 'pass'],
        ['access_rights', 'pass'],
        ['rate_limit', 'pass'],
        ['quota', 'pass'],
      ]);
      expect(res.body.effective.limits).toEqual({ rate: 3, per: 10, quotaMax: 5, quotaRenewalRate: 0 });
      expect(res.body.session.keyId).toBe(keyId);
      expect(after.body).toMatchObject({ quotaRemaining: 5, version: 1 });
    });

    it('names the first failing check and marks the later ones skipped', async () => {
      const { key, keyId } = await createKey(dev, {
        quotaMax: 1,
        accessRights: { local: { allowedUrls: [{ url: '/pets', methods: ['GET'] }] } },
      });
      await spend(key, 1);

      const url = await call('GET', `/keys/${keyId}/explain?${target}&method=DELETE&path=/pets`);
      const quota = await call('GET', `/keys/${keyId}/explain?${target}&path=/pets`);

      expect(url.body).toMatchObject({
        decision: 'deny',
        reason: 'url_not_allowed',
        message: 'Access to this resource has been disallowed',
      });
      expect(url.body.checks.map((c: Json) => c.outcome)).toEqual(['pass', 'pass', 'pass', 'fail', 'skip', 'skip']);
      expect(url.body.checks[5].detail).toMatch(/^not reached \(would fail/);
      expect(quota.body).toMatchObject({ decision: 'deny', reason: 'quota_exceeded' });
    });

    it('answers for the time given by `at`', async () => {
      const now = Math.floor(Date.now() / 1000);
      const { keyId } = await createKey(dev, { expires: now + 3600 });

      const later = await call('GET', `/keys/${keyId}/explain?${target}&at=${now + 7200}`);

      expect(later.body).toMatchObject({ decision: 'deny', reason: 'session_expired' });
    });

    it('answers 400 naming missing and bad parameters, 404 for an unknown key', async () => {
      const { keyId } = await createKey(dev);

      const missing = await call('GET', `/keys/${keyId}/explain`);
      const bad = await call('GET', `/keys/${keyId}/explain?${target}&path=pets&at=soon&method=G_T`);
      const unknown = await call('GET', `/keys/${'4'.repeat(64)}/explain?${target}`);

      expect(missing.status).toBe(400);
      expect(fields(missing.body)).toEqual(['apiId', 'stage']);
      expect(fields(bad.body)).toEqual(['at', 'method', 'path']);
      expect(unknown.status).toBe(404);
    });
  });
});
