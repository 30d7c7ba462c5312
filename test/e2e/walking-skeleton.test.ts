import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { maskKey } from '../../lambdas/core/model/keys.ts';
import type { DevServer } from '../../local/dev.ts';
import { countItems } from '../support/dynamo.ts';
import { adminPost, createKey, startTestDev } from '../support/dev.ts';

/** Sends raw header bytes (fetch refuses non-ASCII header values; clients on the internet don't). */
function rawGet(url: string, headerLines: string[]): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'GET', insecureHTTPParser: true },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    for (const line of headerLines) {
      const [name, ...rest] = line.split(':');
      req.setHeader(name!, Buffer.from(rest.join(':').trim(), 'utf8').toString('latin1'));
    }
    req.end();
  });
}

describe('the local gateway, end to end over HTTP', () => {
  let dev: DevServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    // Capture everything the handlers log (Powertools writes JSON lines to stdout).
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      logLines.push(String(chunk));
      return write(chunk as string, ...(rest as []));
    }) as typeof process.stdout.write);
    // Verbose: the authorizer's JSON lines too, which name the key by its masked tail.
    dev = await startTestDev({}, { verbose: true });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await dev?.stop();
  });

  it('answers /health on the admin port once ready', async () => {
    const res = await fetch(`${dev.adminUrl}/health`);
    expect(res.status).toBe(200);
  });

  it('lets a new key through to the echo backend, with the authorizer context', async () => {
    const { key, keyId } = await createKey(dev, { alias: 'alice', quotaMax: 10, metaData: { plan: 'gold' } });

    const res = await fetch(`${dev.gatewayUrl}/pets/42?x=1`, { headers: { Authorization: `Bearer ${key}` } });

    expect(res.status).toBe(200);
    const echo = (await res.json()) as { method: string; path: string; authorizer: Record<string, string> };
    expect(echo).toMatchObject({ method: 'GET', path: '/pets/42' });
    expect(echo.authorizer).toMatchObject({
      principalId: keyId,
      keyId,
      alias: 'alice',
      quotaRemaining: '9',
      quotaMax: '10',
      meta_plan: 'gold',
    });
  });

  it("denies an expired key with 403 session_expired and Tyk's message", async () => {
    const { key } = await createKey(dev, { expires: Math.floor(Date.now() / 1000) - 86_400 });

    const res = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });

    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'Key has expired, please renew', reason: 'session_expired' });
  });

  it('denies an unknown key with 403 key_not_found', async () => {
    const res = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: 'gp_this-key-does-not-exist' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ reason: 'key_not_found' });
  });

  it('answers 401 missing_credential without a credential', async () => {
    const res = await fetch(`${dev.gatewayUrl}/pets`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'Authorization field missing', reason: 'missing_credential' });
  });

  it('answers 403 quota_exceeded once the quota is used up', async () => {
    const { key } = await createKey(dev, { quotaMax: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } })).status);
    }
    const last = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });
    expect(statuses).toEqual([200, 200, 200, 403]);
    expect(await last.json()).toMatchObject({ error: 'Quota exceeded', reason: 'quota_exceeded' });
  });

  it('denies a key outside its access rights with api_not_allowed / url_not_allowed', async () => {
    const other = await createKey(dev, { accessRights: { 'another-api': {} } });
    const narrow = await createKey(dev, { accessRights: { local: { allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] } } });

    const a = await fetch(`${dev.gatewayUrl}/pets/1`, { headers: { Authorization: other.key } });
    const b = await fetch(`${dev.gatewayUrl}/pets/1`, { headers: { Authorization: narrow.key } });
    const c = await fetch(`${dev.gatewayUrl}/pets/1`, { method: 'DELETE', headers: { Authorization: narrow.key } });
    const d = await fetch(`${dev.gatewayUrl}/pets/1/owner`, { headers: { Authorization: narrow.key } });

    expect([a.status, b.status, c.status, d.status]).toEqual([403, 200, 403, 403]);
    expect(await a.json()).toMatchObject({ reason: 'api_not_allowed' });
    expect(await c.json()).toMatchObject({ reason: 'url_not_allowed' });
  });

  describe('bad input', () => {
    it('rejects invalid JSON, wrong types and unknown fields with 400 naming each field, and writes nothing', async () => {
      const before = await countItems(dev.tableName);

      const invalid = await adminPost(dev, '/keys', '{"alias": ');
      const wrong = await adminPost(dev, '/keys', { quotaMax: 'lots', rate: -1, accessRights: [], bogus: true });

      expect(invalid.status).toBe(400);
      expect(wrong.status).toBe(400);
      const body = (await wrong.json()) as { error: { code: string; details: Array<{ field: string }> } };
      expect(body.error.code).toBe('invalid_fields');
      expect(body.error.details.map((d) => d.field).sort()).toEqual(['accessRights', 'bogus', 'quotaMax', 'rate']);
      expect(await countItems(dev.tableName)).toBe(before);
    });

    it('rejects a 70 KiB body with 413 and a non-JSON body with 415, writing nothing', async () => {
      const before = await countItems(dev.tableName);

      const big = await adminPost(dev, '/keys', { alias: 'x', tags: ['a'.repeat(70 * 1024)] });
      const text = await fetch(`${dev.adminUrl}/keys`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'alias=x' });

      expect(big.status).toBe(413);
      expect(text.status).toBe(415);
      expect(await countItems(dev.tableName)).toBe(before);
    });

    it('denies a 12 KiB junk Authorization header and non-ASCII keys cleanly, never 500', async () => {
      const junk = await rawGet(`${dev.gatewayUrl}/pets`, [`Authorization: ${'x'.repeat(12 * 1024)}`]);
      const accents = await rawGet(`${dev.gatewayUrl}/pets`, ['Authorization: gp_clé-été-ünïcödé-1234567']);
      const bearerOnly = await rawGet(`${dev.gatewayUrl}/pets`, ['Authorization: Bearer ']);

      expect(junk.status).toBe(403);
      expect(accents.status).toBe(403);
      expect(bearerOnly.status).toBe(401);
      expect(JSON.parse(junk.body)).toMatchObject({ reason: 'key_not_found' });
    });
  });

  it('never logs a raw key, only its masked tail', async () => {
    const { key } = await createKey(dev, { quotaMax: 1, expires: 0 });
    await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });
    await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } }); // quota_exceeded → logged

    const logs = logLines.join('');
    expect(logs).toContain(maskKey(key));
    expect(logs).not.toContain(key);
  });
});
