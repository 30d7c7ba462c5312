import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';

/**
 * Exact counting while keys and policies are written, through two gateway instances (each
 * its own authorizer: its own remembered settings and policy cache) on one DynamoDB Local
 * table, over HTTP. Each case is one an operator hit on the previous counting model.
 */
describe('exact under every write, across two gateway instances', () => {
  let a: DevServer;
  let b: DevServer;
  beforeAll(async () => {
    const shared = { tableName: `e2e-exact-${randomUUID()}`, policyCacheSeconds: 1 };
    a = await startTestDev(shared);
    b = await startTestDev(shared);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  const call = async (dev: DevServer, key: string, path = '/pets'): Promise<number> =>
    (await fetch(dev.gatewayUrl + path, { headers: { authorization: key } })).status;
  const admin = async (method: string, route: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(a.adminUrl + route, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (res.status >= 300) throw new Error(`${method} ${route} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  /** `clients` workers sending `total` requests between them, alternating instances. */
  async function traffic(key: string, total: number, clients: number, path = () => '/pets'): Promise<number[]> {
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < total) {
          const i = next++;
          statuses.push(await call(i % 2 ? a : b, key, path()));
        }
      }),
    );
    return statuses;
  }
  const allowed = (statuses: number[]) => statuses.filter((s) => s === 200).length;

  it('re-saving a key with PUT during traffic gives no quota back: exactly 100 of 260 allowed', async () => {
    const body = { alias: 'resaved', quotaMax: 100, quotaRenewalRate: 3600 };
    const { key, keyId } = await createKey(a, body);
    let saving = true;
    let saves = 0;
    const operator = (async () => {
      while (saving) {
        await admin('PUT', `/keys/${keyId}`, { ...body, alias: `resaved-${saves++}` });
      }
    })();

    const statuses = await traffic(key, 260, 8);
    saving = false;
    await operator;

    expect(saves).toBeGreaterThan(3);
    expect(allowed(statuses)).toBe(100);
  });

  it('a PATCH that lowers quotaMax from 40 to 35 mid-traffic holds the key to 35', async () => {
    const { key, keyId } = await createKey(a, { quotaMax: 40, quotaRenewalRate: 3600 });
    const first = await traffic(key, 10, 2);
    const [patched, rest] = await Promise.all([admin('PATCH', `/keys/${keyId}`, { quotaMax: 35 }), traffic(key, 50, 8)]);

    // The patch landed while fewer than 35 were used (it says how many were left): then 35
    // in all, never 40 and never more.
    expect(patched.quotaRemaining).toBeGreaterThan(0);
    expect(allowed(first) + allowed(rest)).toBe(35);
  });

  it('moving a key from a big policy to a small one applies at once to the count already made', async () => {
    await admin('PUT', '/policies/gold', { quotaMax: 1000, quotaRenewalRate: 86_400 });
    await admin('PUT', '/policies/free', { quotaMax: 5, quotaRenewalRate: 86_400 });
    const { key, keyId } = await createKey(a, { applyPolicies: ['gold'], quotaRemaining: 24 }); // 976 used
    expect(allowed(await traffic(key, 4, 2))).toBe(4); // both instances now hold gold

    await admin('PATCH', `/keys/${keyId}`, { applyPolicies: ['free'] });
    const after = await traffic(key, 20, 4);

    expect(allowed(after)).toBe(0);
    expect(after.every((s) => s === 403)).toBe(true);
    const session = await admin('GET', `/keys/${keyId}`);
    expect(session.quotaRemaining).toBe(0);
  });

  it('a forbidden request never spends quota: 5 permitted and 20 forbidden requests at once on a key with 5 left', async () => {
    for (let run = 0; run < 3; run++) {
      const rights = { local: { allowedUrls: [{ url: '/pets(/.*)?', methods: ['GET'] }] } };
      const { key } = await createKey(a, { quotaMax: 5, accessRights: rights });
      const requests = Array.from({ length: 25 }, (_, i) => (i % 5 === 0 ? '/pets' : '/admin/secrets'));
      const statuses = await Promise.all(requests.map((path, i) => call(i % 2 ? a : b, key, path)));
      const permitted = statuses.filter((_, i) => requests[i] === '/pets');
      expect(permitted).toEqual([200, 200, 200, 200, 200]);
      expect(statuses.filter((_, i) => requests[i] !== '/pets').every((s) => s === 403)).toBe(true);
    }
  });

  it('a policy made smaller and then bigger applies on both instances within policyCacheSeconds', async () => {
    await admin('PUT', '/policies/flex', { quotaMax: 10, quotaRenewalRate: 86_400 });
    const { key } = await createKey(a, { applyPolicies: ['flex'] });
    expect(allowed(await traffic(key, 4, 2))).toBe(4);

    await admin('PUT', '/policies/flex', { quotaMax: 3, quotaRenewalRate: 86_400 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(allowed(await traffic(key, 6, 2))).toBe(0);

    await admin('PUT', '/policies/flex', { quotaMax: 8, quotaRenewalRate: 86_400 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(allowed(await traffic(key, 10, 4))).toBe(4);
  });
});
