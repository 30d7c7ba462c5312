import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../lambdas/core/model/keys.ts';
import type { DevServer } from '../../local/dev.ts';
import { startTestDev } from '../support/dev.ts';
import { countItems } from '../support/dynamo.ts';
import { tykPolicy } from '../support/tyk.ts';

// `any` keeps JSON bodies readable in assertions.
type Json = Record<string, any>;

const TYK_SESSION = 'application/vnd.tyk.session+json';
const TYK_POLICY = 'application/vnd.tyk.policy+json';

/** A session as Tyk's Gateway API returns it (`GET /tyk/keys/{key}`), zero values included. */
function tykSession(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    last_check: 0,
    allowance: 1000,
    rate: 1000,
    per: 60,
    throttle_interval: 0,
    throttle_retry_limit: 0,
    max_query_depth: 0,
    date_created: '2024-03-13T03:56:46.568042549Z',
    expires: -1,
    quota_max: 3,
    quota_renews: 1710302205,
    quota_remaining: 3,
    quota_renewal_rate: 3600,
    access_rights: {
      local: {
        api_name: 'Pets',
        api_id: 'local',
        versions: ['Default'],
        allowed_urls: [{ url: '/pets/[0-9]+', methods: ['GET'] }],
        restricted_types: null,
        limit: { rate: 0, per: 0, quota_max: 0, quota_renews: 0, quota_remaining: 0, quota_renewal_rate: 0 },
        allowance_scope: '',
      },
    },
    org_id: '5e9d9544a1dcd60001d0ed20',
    oauth_client_id: '',
    oauth_keys: null,
    basic_auth_data: { password: '', hash_type: '' },
    jwt_data: { secret: '' },
    hmac_enabled: false,
    hmac_string: '',
    is_inactive: false,
    apply_policy_id: '',
    apply_policies: null,
    data_expires: 0,
    monitor: { trigger_limits: null },
    enable_detailed_recording: false,
    meta_data: { tyk_developer_id: '62b3fb9a1d5e4f00017226f5', tier: 2, flags: { beta: true } },
    tags: ['migrated'],
    alias: 'tyk-customer',
    last_updated: '1710302206',
    id_extractor_deadline: 0,
    session_lifetime: 0,
    ...overrides,
  };
}

describe('Tyk migration through the admin API', () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev();
  });
  afterAll(async () => {
    await dev?.stop();
  });

  async function send(method: string, route: string, type: string, body: unknown): Promise<{ status: number; body: Json }> {
    const res = await fetch(dev.adminUrl + route, { method, headers: { 'content-type': type }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Json };
  }

  const get = (key: string, path: string, method = 'GET'): Promise<Response> =>
    fetch(dev.gatewayUrl + path, { method, headers: { Authorization: key } });

  it('imports a Tyk session with its raw key, round-trips its fields and reports the ignored ones', async () => {
    const key = 'tyk-5e9d9544a1dcd60001d0ed20-0001';

    const res = await send('POST', '/keys', TYK_SESSION, { ...tykSession(), key });
    const read = await fetch(`${dev.adminUrl}/keys/${keyIdOf(key)}`).then((r) => r.json() as Promise<Json>);

    expect(res.status).toBe(201);
    expect(res.body.keyId).toBe(keyIdOf(key));
    expect(read).toMatchObject({
      alias: 'tyk-customer',
      expires: 0,
      quotaMax: 3,
      quotaRemaining: 3,
      quotaRenewalRate: 3600,
      quotaRenews: 1710302205,
      rate: 1000,
      per: 60,
      accessRights: { local: { apiName: 'Pets', versions: ['Default'], allowedUrls: [{ url: '.*(?:/pets/[0-9]+).*', methods: ['GET'] }] } },
      applyPolicies: [],
      metaData: { tyk_developer_id: '62b3fb9a1d5e4f00017226f5', tier: 2, flags: '{"beta":true}' },
      tags: ['migrated'],
      isInactive: false,
    });
    expect(res.body.ignoredFields).toEqual(['allowance', 'date_created', 'last_updated', 'org_id']);
  });

  it('authorizes the imported key as Tyk would: unanchored URL rules, methods, other APIs, and the quota', async () => {
    const key = 'tyk-5e9d9544a1dcd60001d0ed20-0002';
    await send('POST', '/keys', TYK_SESSION, { ...tykSession({ quota_max: 3, quota_remaining: 3, quota_renews: 0 }), key });

    const allowed = await get(key, '/pets/42');
    const unanchored = await get(key, '/v1/pets/42/owner');
    const wrongMethod = await get(key, '/pets/42', 'DELETE');
    const otherPath = await get(key, '/users/1');
    const third = await get(key, '/pets/7');
    const overQuota = await get(key, '/pets/7');

    expect([allowed.status, unanchored.status, wrongMethod.status, otherPath.status, third.status, overQuota.status]).toEqual([
      200, 200, 403, 403, 200, 403,
    ]);
    expect(await wrongMethod.json()).toMatchObject({ reason: 'url_not_allowed' });
    expect(await overQuota.json()).toMatchObject({ reason: 'quota_exceeded' });
  });

  it('treats quota_max 0 and rate -1 as unlimited, like Tyk', async () => {
    const key = 'tyk-5e9d9544a1dcd60001d0ed20-0003';
    await send('POST', '/keys', TYK_SESSION, {
      ...tykSession({ quota_max: 0, quota_remaining: 0, rate: -1, per: -1, access_rights: {} }),
      key,
    });

    const statuses = await Promise.all([1, 2, 3, 4].map(() => get(key, '/anything').then((r) => r.status)));

    expect(statuses).toEqual([200, 200, 200, 200]);
  });

  it('denies a Tyk key whose expiry has passed, and one that is inactive', async () => {
    const expired = 'tyk-5e9d9544a1dcd60001d0ed20-0004';
    const inactive = 'tyk-5e9d9544a1dcd60001d0ed20-0005';
    await send('POST', '/keys', TYK_SESSION, { ...tykSession({ expires: Math.floor(Date.now() / 1000) - 60 }), key: expired });
    await send('POST', '/keys', TYK_SESSION, { ...tykSession({ is_inactive: true }), key: inactive });

    expect(await (await get(expired, '/pets/1')).json()).toMatchObject({ reason: 'session_expired' });
    expect(await (await get(inactive, '/pets/1')).json()).toMatchObject({ reason: 'key_inactive' });
  });

  it('imports a Tyk policy and applies it to a Tyk key through apply_policy_id', async () => {
    const policy = await send('PUT', '/policies/tyk-gold', TYK_POLICY, {
      _id: '65f1c0ffee',
      id: '65f1c0ffee',
      name: 'Gold',
      org_id: '5e9d9544a1dcd60001d0ed20',
      rate: 100,
      per: 1,
      quota_max: 2,
      quota_renewal_rate: 86400,
      access_rights: { local: { api_id: 'local', api_name: 'Pets', versions: ['Default'], allowed_urls: [] } },
      key_expires_in: -1,
      tags: ['gold'],
      meta_data: { plan: 'gold' },
      active: true,
      hmac_enabled: false,
      partitions: { quota: false, rate_limit: false, acl: false, per_api: false },
    });
    const key = 'tyk-5e9d9544a1dcd60001d0ed20-0006';
    await send('POST', '/keys', TYK_SESSION, { ...tykSession({ apply_policy_id: 'tyk-gold', quota_max: -1, access_rights: {} }), key });

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(key, '/anything')).status);

    expect(policy.status).toBe(200);
    expect(policy.body).toMatchObject({
      id: 'tyk-gold',
      name: 'Gold',
      rate: 100,
      per: 1,
      quotaMax: 2,
      quotaRenewalRate: 86400,
      keyExpiresIn: 0,
      isInactive: false,
      tags: ['gold'],
    });
    expect(policy.body.accessRights).toEqual({ local: { apiName: 'Pets', versions: ['Default'] } });
    expect(policy.body.ignoredFields).toEqual(['_id', 'id', 'org_id']);
    expect(statuses).toEqual([200, 200, 403]);
  });

  it('makes a policy inactive when Tyk says active: false', async () => {
    const res = await send('PUT', '/policies/tyk-off', TYK_POLICY, { name: 'Off', active: false });

    expect(res.body.isInactive).toBe(true);
  });

  it('answers 400 naming bad fields by their Tyk names, writing nothing', async () => {
    const before = await countItems(dev.tableName);

    const session = await send('POST', '/keys', TYK_SESSION, {
      ...tykSession({ quota_max: 'lots', rate: 10, per: 0, meta_data: { 'bad name': 1 } }),
      access_rights: { local: { allowed_urls: [{ url: '/pets(', methods: ['get'] }] } },
    });
    const policy = await send('PUT', '/policies/tyk-bad', TYK_POLICY, { key_expires_in: 1.5, tags: 'gold' });
    const mapped = await send('POST', '/keys', TYK_SESSION, tykSession({ meta_data: { 'bad name': 1 }, alias: 'x'.repeat(300) }));

    expect(session.status).toBe(400);
    expect(session.body.error.details.map((d: Json) => d.field)).toEqual(['quota_max']);
    expect(policy.status).toBe(400);
    expect(policy.body.error.details.map((d: Json) => d.field).sort()).toEqual(['key_expires_in', 'tags']);
    expect(mapped.status).toBe(400);
    expect(mapped.body.error.details.map((d: Json) => d.field).sort()).toEqual(['alias', 'meta_data.bad name']);
    expect(await countItems(dev.tableName)).toBe(before);
  });

  it("names Tyk URL rules that RE2 (Go's regexp, as in Tyk) cannot compile, and lower-case methods", async () => {
    const res = await send('POST', '/keys', TYK_SESSION, {
      ...tykSession(),
      access_rights: {
        local: {
          allowed_urls: [
            { url: '/pets(', methods: ['GET'] },
            { url: '/ok', methods: ['get'] },
            { url: '/pets/(?=[0-9])', methods: ['GET'] },
          ],
        },
      },
    });

    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: Json) => d.field)).toEqual([
      'access_rights.local.allowed_urls.0.url',
      'access_rights.local.allowed_urls.1.methods.0',
      'access_rights.local.allowed_urls.2.url',
    ]);
    expect(res.body.error.details[2].message).toContain('RE2 cannot compile it');
  });

  it('imports partitions and per-API limits, and refuses a policy Tyk itself refuses to apply, by its Tyk field name', async () => {
    // internal/policy/testdata/policies.json: per_api_and_no_other_partitions, per_api_and_partitions.
    const perApi = await send('PUT', '/policies/tyk-per-api', TYK_POLICY, tykPolicy('per_api_and_no_other_partitions'));
    const mixed = await send('PUT', '/policies/tyk-mixed', TYK_POLICY, tykPolicy('per_api_and_partitions'));

    expect(perApi.status).toBe(200);
    expect(perApi.body).toMatchObject({
      partitions: { perApi: true },
      accessRights: {
        c: { limit: { rate: 2000, per: 60, quotaMax: -1 } },
        d: { limit: { rate: 20, per: 1, quotaMax: 1000, quotaRenewalRate: 3600 } },
      },
      ignoredFields: ['id'],
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.details.map((d: Json) => d.field)).toEqual(['partitions.per_api']);
  });
});
