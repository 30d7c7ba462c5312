import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';
import { tykPolicy } from '../support/tyk.ts';

// `any` keeps JSON bodies readable in assertions.
type Json = Record<string, any>;

const TYK_SESSION = 'application/vnd.tyk.session+json';
const TYK_POLICY = 'application/vnd.tyk.policy+json';

/** Tyk's test policies name their APIs a, b, c, d; the local gateway's API is `local`. */
const ON_LOCAL = { a: 'local', c: 'local', d: 'local' };

/**
 * A limiting policy without partitions, shaped as `defaultTestPol` in Tyk's
 * gateway/api_test.go (its rate and quota changed to small numbers).
 */
const LIMITING_POLICY = {
  ID: 'limiting',
  rate: 2,
  per: 5,
  quota_max: 2,
  quota_renewal_rate: 60,
  access_rights: { local: { api_name: 'My API', api_id: 'local', versions: ['Default'] } },
  org_id: '54de205930c55e15bd000001',
  hmac_enabled: false,
};

/** Imported keys get unique raw keys (16+ characters). */
let keys = 0;
const nextKey = (): string => `tyk-interop-key-${String(++keys).padStart(4, '0')}`;

describe('a Tyk user moving to gatepass: what callers see through the local gateway', () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev({ policyCacheSeconds: 0 });
  });
  afterAll(async () => {
    await dev?.stop();
  });

  async function putTykPolicy(id: string, body: unknown): Promise<Json> {
    const res = await fetch(`${dev.adminUrl}/policies/${id}`, {
      method: 'PUT',
      headers: { 'content-type': TYK_POLICY },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Json;
    if (res.status !== 200) throw new Error(`PUT /policies/${id} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  }

  /** Imports a Tyk session (as Tyk's Gateway API exports it) under a new raw key. */
  async function importTykKey(session: Record<string, unknown>): Promise<string> {
    const key = nextKey();
    const res = await fetch(`${dev.adminUrl}/keys`, {
      method: 'POST',
      headers: { 'content-type': TYK_SESSION },
      body: JSON.stringify({ ...session, key }),
    });
    if (res.status !== 201) throw new Error(`POST /keys answered ${res.status}: ${await res.text()}`);
    return key;
  }

  /** A new key applying the given (already imported) policies, its quota untouched. */
  const keyWithPolicies = async (...policies: string[]): Promise<string> => (await createKey(dev, { applyPolicies: policies })).key;

  async function call(key: string, path: string): Promise<{ status: number; body: Json }> {
    const res = await fetch(dev.gatewayUrl + path, { headers: { Authorization: key } });
    return { status: res.status, body: (await res.json()) as Json };
  }

  async function statuses(key: string, path: string, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await call(key, path)).status);
    return out;
  }

  describe('allowed_urls wildcards, converted as PreparePathRegexp does (internal/httputil/mux.go, Tyk 5.6+)', () => {
    it('lets /items/* allow /items/42 but not /itemsecret, and /api/*/users allow /api/v1/users', async () => {
      const key = await importTykKey({
        access_rights: {
          local: {
            api_id: 'local',
            versions: ['Default'],
            allowed_urls: [
              { url: '/items/*', methods: ['GET'] },
              { url: '/api/*/users', methods: ['GET'] },
            ],
          },
        },
      });

      const [item, secret, users, deeper] = await Promise.all(
        ['/items/42', '/itemsecret', '/api/v1/users', '/api/v1/v2/users'].map((path) => call(key, path)),
      );

      expect([item.status, secret.status, users.status, deeper.status]).toEqual([200, 403, 200, 403]);
      expect(secret.body).toMatchObject({ reason: 'url_not_allowed' });
    });
  });

  describe('policy merge (internal/policy/apply.go)', () => {
    it('keeps the limits of a limiting policy merged with an access-only one (ApplyRateLimits skips an empty rate)', async () => {
      await putTykPolicy('nonpart1', tykPolicy('nonpart1', ON_LOCAL)); // access only: no rate, no quota
      await putTykPolicy('limiting', LIMITING_POLICY);
      const key = await keyWithPolicies('nonpart1', 'limiting');

      const first = await call(key, '/anything');
      const rest = await statuses(key, '/anything', 2);

      expect(first.status).toBe(200);
      expect(first.body.authorizer).toMatchObject({ rateLimit: '2', quotaMax: '2' });
      expect(rest).toEqual([200, 403]);
    });

    it("lets a policy without a URL list leave the other policy's /user rule in force (MergeAllowedURLs)", async () => {
      await putTykPolicy('nonpart1', tykPolicy('nonpart1', ON_LOCAL));
      await putTykPolicy('per-path1', tykPolicy('per-path1', ON_LOCAL)); // local: /user GET POST
      const key = await keyWithPolicies('nonpart1', 'per-path1');

      const [user, companies] = await Promise.all([call(key, '/user'), call(key, '/companies')]);

      expect([user.status, companies.status]).toEqual([200, 403]);
      expect(companies.body).toMatchObject({ reason: 'url_not_allowed' });
    });

    it('merges quota_max and quota_renewal_rate apart: 3 per 5 s and 2 per 3600 s give 3 per 3600 s', async () => {
      await putTykPolicy('quota-3-per-5s', { ...LIMITING_POLICY, rate: 0, per: 0, quota_max: 3, quota_renewal_rate: 5 });
      await putTykPolicy('quota-2-per-hour', { ...LIMITING_POLICY, rate: 0, per: 0, quota_max: 2, quota_renewal_rate: 3600 });
      const key = await keyWithPolicies('quota-3-per-5s', 'quota-2-per-hour');
      const now = Math.floor(Date.now() / 1000);

      const first = await call(key, '/anything');
      const rest = await statuses(key, '/anything', 3);

      expect(first.body.authorizer.quotaMax).toBe('3');
      // The window renews in an hour, not in 5 s.
      expect(Number(first.body.authorizer.quotaRenews)).toBeGreaterThanOrEqual(now + 3600 - 5);
      expect(rest).toEqual([200, 200, 403]);
    });

    it("applies partitions: quota from a quota partition, rate from a rate partition (Tyk's quota1 + rate3)", async () => {
      // apply_test.go "inherit quota and rate from partitioned policies": QuotaMax 2, Rate 4 per 4.
      await putTykPolicy('quota1', tykPolicy('quota1', ON_LOCAL));
      await putTykPolicy('rate3', tykPolicy('rate3', ON_LOCAL));
      const key = await keyWithPolicies('quota1', 'rate3');

      const first = await call(key, '/anything');
      const rest = await statuses(key, '/anything', 2);

      expect(first.body.authorizer).toMatchObject({ quotaMax: '2', rateLimit: '4' });
      expect(rest).toEqual([200, 403]);
    });

    it('takes the APIs from ACL partitions only (Tyk\'s quota4 + nonpart1: "Don\'t apply api b coming from quota4")', async () => {
      await putTykPolicy('quota4', tykPolicy('quota4', { b: 'local' })); // quota partition only, on local
      await putTykPolicy('nonpart1-elsewhere', tykPolicy('nonpart1')); // all partitions, on API a
      const key = await keyWithPolicies('quota4', 'nonpart1-elsewhere');

      const denied = await call(key, '/anything');

      expect(denied).toMatchObject({ status: 403, body: { reason: 'api_not_allowed' } });
    });

    it("counts a per-API policy's API apart, under the API's own limit (Tyk's per_api_with_api_d, quota 5000 → 2)", async () => {
      const perApi = tykPolicy('per_api_with_api_d', ON_LOCAL) as Json;
      perApi.access_rights.local.limit.quota_max = 2;
      const policy = await putTykPolicy('per-api-d', perApi);
      const key = await keyWithPolicies('per-api-d');

      const calls = await statuses(key, '/anything', 3);

      expect(policy).toMatchObject({
        partitions: { perApi: true },
        accessRights: { local: { limit: { rate: 200, per: 10, quotaMax: 2, quotaRenewalRate: 3600 } } },
      });
      expect(calls).toEqual([200, 200, 403]);
    });

    it('denies a key mixing per-API and partitioned policies, which Tyk refuses to apply', async () => {
      await putTykPolicy('per-api-d', tykPolicy('per_api_with_api_d', ON_LOCAL));
      await putTykPolicy('quota1', tykPolicy('quota1', ON_LOCAL));
      const key = await keyWithPolicies('per-api-d', 'quota1');

      expect((await call(key, '/anything')).status).toBe(403);
    });
  });

  describe('sessions', () => {
    it('reads an absent quota_remaining (Tyk 5.12+ omits zero values) as a used-up quota', async () => {
      const renews = Math.floor(Date.now() / 1000) + 3600;
      // A compact export of an exhausted key: quota_remaining 0 is left out (user/session.go `omitzero`).
      const key = await importTykKey({
        quota_max: 3,
        quota_renewal_rate: 3600,
        quota_renews: renews,
        access_rights: { local: { api_id: 'local', versions: ['Default'] } },
      });

      const denied = await call(key, '/anything');

      expect(denied).toMatchObject({ status: 403, body: { reason: 'quota_exceeded' } });
    });

    it("keeps is_inactive: true a denial even when the key's policies are active (unlike Tyk 5.11+)", async () => {
      await putTykPolicy('limiting', LIMITING_POLICY);
      const key = await importTykKey({ apply_policies: ['limiting'], is_inactive: true });

      expect(await call(key, '/anything')).toMatchObject({ status: 403, body: { reason: 'key_inactive' } });
    });
  });
});
