import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MATCHED_PATH_LENGTH } from '../../lambdas/core/model/url-pattern.ts';
import type { DevServer } from '../../local/dev.ts';
import { adminPost, createKey, startTestDev } from '../support/dev.ts';

// `any` keeps JSON bodies readable in assertions.
type Json = Record<string, any>;

describe('URL patterns through the local gateway', () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev();
  });
  afterAll(async () => {
    await dev?.stop();
  });

  const get = (key: string, path: string): Promise<Response> => fetch(dev.gatewayUrl + path, { headers: { Authorization: key } });

  /** A GET with the path sent byte for byte as written (fetch would resolve `..` and `%2e` itself). */
  function rawGet(key: string, path: string): Promise<{ status: number; body: Json }> {
    const gateway = new URL(dev.gatewayUrl);
    return new Promise((resolve, reject) => {
      const req = request({ host: gateway.hostname, port: gateway.port, path, headers: { Authorization: key } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Json }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('denies a path with dot segments or encoded separators for a key with URL rights, and leaves other keys alone', async () => {
    const { key: scoped } = await createKey(dev, { accessRights: { local: { allowedUrls: [{ url: '/public/.*', methods: ['GET'] }] } } });
    const { key: open } = await createKey(dev, {});
    const ambiguous = ['/public/..%2Fadmin', '/public/..%5Cadmin', '/public/..;/admin', '/public/%252e%252e/admin', '/public/..%3B/admin'];

    const denied = await Promise.all(ambiguous.map((path) => rawGet(scoped, path)));
    const plain = await rawGet(scoped, '/public/%7Eann/docs');
    const unscoped = await Promise.all(ambiguous.map((path) => rawGet(open, path)));

    expect(denied.map((r) => [r.status, r.body.reason])).toEqual(ambiguous.map(() => [403, 'url_not_allowed']));
    expect(plain).toMatchObject({ status: 200, body: { path: '/public/%7Eann/docs' } });
    expect(unscoped.map((r) => r.status)).toEqual(ambiguous.map(() => 200));
  });

  it('answers at once for a pattern that backtracks catastrophically in a backtracking engine, and keeps serving', async () => {
    // With JavaScript's RegExp this one request took minutes, and the gateway served nothing meanwhile.
    const { key } = await createKey(dev, {
      accessRights: { local: { allowedUrls: [{ url: '/files/([a-z0-9]+/?)+', methods: ['GET'] }] } },
    });
    const started = performance.now();

    const slow = await get(key, `/files/${'a1'.repeat(24)}!`);
    const next = await get(key, '/files/a1/b2/');

    expect(performance.now() - started).toBeLessThan(2000);
    expect([slow.status, next.status]).toEqual([403, 200]);
    expect(await slow.json()).toMatchObject({ reason: 'url_not_allowed' });
  });

  it(`denies a path longer than ${MAX_MATCHED_PATH_LENGTH} characters as url_not_allowed, never a fault`, async () => {
    const { key } = await createKey(dev, { accessRights: { local: { allowedUrls: [{ url: '/.*' }] } } });

    const long = await get(key, `/${'a'.repeat(MAX_MATCHED_PATH_LENGTH)}`);
    const atCap = await get(key, `/${'a'.repeat(MAX_MATCHED_PATH_LENGTH - 1)}`);

    expect([long.status, atCap.status]).toEqual([403, 200]);
    expect(await long.json()).toMatchObject({ reason: 'url_not_allowed' });
  });

  it('refuses a pattern RE2 cannot compile with a 400 naming the field, on create and on update', async () => {
    const created = await adminPost(dev, '/keys', {
      accessRights: { local: { allowedUrls: [{ url: '/pets/(?=[0-9])', methods: ['GET'] }] } },
    });
    const { keyId } = await createKey(dev, {});
    const patched = await fetch(`${dev.adminUrl}/keys/${keyId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessRights: { local: { allowedUrls: [{ url: '/(a)\\1' }] } } }),
    });
    const policy = await fetch(`${dev.adminUrl}/policies/lookaround`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessRights: { local: { allowedUrls: [{ url: '(?<=/v1)/pets' }] } } }),
    });
    const bodies = (await Promise.all([created.json(), patched.json(), policy.json()])) as Json[];

    expect([created.status, patched.status, policy.status]).toEqual([400, 400, 400]);
    expect(bodies.map((body) => body.error.details.map((d: Json) => d.field))).toEqual([
      ['accessRights.local.allowedUrls.0.url'],
      ['accessRights.local.allowedUrls.0.url'],
      ['accessRights.local.allowedUrls.0.url'],
    ]);
    expect(bodies[0]!.error.details[0].message).toContain('RE2 cannot compile it');
  });
});
