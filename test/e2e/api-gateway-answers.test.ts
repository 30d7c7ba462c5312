import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';

const EXPLICIT_DENY = 'User is not authorized to access this resource with an explicit deny';

/**
 * What a client sees from the local gateway in front of the real authorizer, as from API
 * Gateway with gatepass's gateway responses: long paths, the 401 challenge, the 403 body.
 */
describe('answers through the local gateway and the real authorizer', () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev();
  });
  afterAll(() => dev?.stop());

  it('allows a {proxy+} path far longer than the 512 characters of a policy Resource', async () => {
    const { key } = await createKey(dev, { accessRights: { local: { allowedUrls: [{ url: '/files/.*', methods: ['GET'] }] } } });
    const path = `/files/${'a-long-segment/'.repeat(60)}end`;
    expect(path.length).toBeGreaterThan(512);

    const res = await fetch(`${dev.gatewayUrl}${path}`, { headers: { Authorization: key } });

    expect(res.status).toBe(200);
    expect(((await res.json()) as { path: string }).path).toBe(path);
  });

  it('answers a request without a credential 401 with a WWW-Authenticate challenge', async () => {
    const res = await fetch(`${dev.gatewayUrl}/pets`);

    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toEqual({ error: 'Authorization field missing', reason: 'missing_credential' });
  });

  it("answers a denial 403 with gatepass's error and reason and API Gateway's message", async () => {
    const { key } = await createKey(dev, { isInactive: true });

    const res = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'Key is inactive, please renew', reason: 'key_inactive', message: EXPLICIT_DENY });
    expect(res.headers.get('retry-after')).toBeNull();
  });

  it('answers a rate-limited request 403 with retryAfter in the body and a Retry-After header', async () => {
    const { key } = await createKey(dev, { rate: 1, per: 60 });

    const first = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });
    const limited = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });

    expect(first.status).toBe(200);
    expect(first.headers.get('retry-after')).toBeNull();
    expect(limited.status).toBe(403);
    const body = (await limited.json()) as { retryAfter: number };
    expect(body).toEqual({ error: 'Rate Limit Exceeded', reason: 'rate_limited', retryAfter: body.retryAfter, message: EXPLICIT_DENY });
    expect(body.retryAfter).toBeGreaterThanOrEqual(59);
    expect(body.retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('retry-after')).toBe(String(body.retryAfter));
  });

  it('answers a used-up renewing quota with the seconds until it renews, and a quota that never renews without them', async () => {
    const renewing = await createKey(dev, { quotaMax: 1, quotaRenewalRate: 3600 });
    const forever = await createKey(dev, { quotaMax: 1, quotaRenewalRate: 0 });
    for (const { key } of [renewing, forever]) await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });

    const waiting = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: renewing.key } });
    const never = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: forever.key } });

    expect(waiting.status).toBe(403);
    const body = (await waiting.json()) as { reason: string; retryAfter: number };
    expect(body.reason).toBe('quota_exceeded');
    expect(body.retryAfter).toBeGreaterThan(3500);
    expect(body.retryAfter).toBeLessThanOrEqual(3600);
    expect(waiting.headers.get('retry-after')).toBe(String(body.retryAfter));
    expect(never.status).toBe(403);
    expect(await never.json()).toEqual({ error: 'Quota exceeded', reason: 'quota_exceeded', message: EXPLICIT_DENY });
    expect(never.headers.get('retry-after')).toBeNull();
  });

  it('denies url_not_allowed for a path that only a cut at a colon would allow', async () => {
    const { key } = await createKey(dev, { accessRights: { local: { allowedUrls: [{ url: '/users/[^/]+', methods: ['GET'] }] } } });

    const allowed = await fetch(`${dev.gatewayUrl}/users/me`, { headers: { Authorization: key } });
    const denied = await fetch(`${dev.gatewayUrl}/users/me:/admin/keys`, { headers: { Authorization: key } });

    expect(allowed.status).toBe(200);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ reason: 'url_not_allowed' });
  });
});

describe('with authorizer result caching configured', () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev({ resultsCacheTtl: 30 });
  });
  afterAll(() => dev?.stop());

  it('refuses a key whose rights restrict URLs: a cached Allow would cover its other routes', async () => {
    const { key } = await createKey(dev, { accessRights: { local: { allowedUrls: [{ url: '/pets', methods: ['GET'] }] } } });

    const res = await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } });

    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ reason: 'url_rights_not_cacheable' });
  });

  it('allows a key whose rights cover the whole API', async () => {
    const { key } = await createKey(dev, { accessRights: { local: {} } });

    expect((await fetch(`${dev.gatewayUrl}/pets`, { headers: { Authorization: key } })).status).toBe(200);
  });
});
