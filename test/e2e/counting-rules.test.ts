import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { startTestDev } from '../support/dev.ts';
import { dynamoEndpoint } from '../support/dynamo.ts';
import { DynamoProxy } from '../support/dynamo-proxy.ts';

const MONTH = 2_592_000;
const PLUGIN = path.resolve(import.meta.dirname, '../fixtures/plugins/set-renewal.ts');

/**
 * The counting rules hold on every path that can change a limit or a session, seen from
 * outside: two gateway instances on one DynamoDB Local table over HTTP, instance A talking
 * to DynamoDB through a proxy that can hold a write or lose its answer.
 */
describe('every counting rule on every path, from outside', () => {
  let proxy: DynamoProxy;
  let a: DevServer;
  let b: DevServer;
  beforeAll(async () => {
    proxy = await DynamoProxy.start(dynamoEndpoint());
    const shared = { tableName: `e2e-rules-${randomUUID()}`, policyCacheSeconds: 1, plugins: [PLUGIN] };
    a = await startTestDev(shared, { dynamodbEndpoint: proxy.url });
    b = await startTestDev(shared);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await proxy?.stop();
  });

  const admin = async (dev: DevServer, method: string, route: string, body?: unknown) => {
    const res = await fetch(dev.adminUrl + route, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };
  const ok = async (dev: DevServer, method: string, route: string, body?: unknown) => {
    const answer = await admin(dev, method, route, body);
    if (answer.status >= 300) throw new Error(`${method} ${route} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  /** `n` requests, alternating instances, two at a time; the number allowed. */
  async function allowed(key: string, n: number, headers: Record<string, string> = {}): Promise<number> {
    let count = 0;
    for (let i = 0; i < n; i += 2) {
      const batch = [a, b].slice(0, Math.min(2, n - i));
      const statuses = await Promise.all(
        batch.map(async (dev) => (await fetch(`${dev.gatewayUrl}/pets`, { headers: { authorization: key, ...headers } })).status),
      );
      count += statuses.filter((status) => status === 200).length;
    }
    return count;
  }
  const createKey = async (body: Record<string, unknown>) => (await ok(a, 'POST', '/keys', body)) as { key: string; keyId: string };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 1100)); // past policyCacheSeconds

  describe('a quota of 10 with 6 used that starts to renew allows at most 4 more, whatever gives the renewal rate', () => {
    it('its policy', async () => {
      const id = `lifetime-${randomUUID()}`;
      await ok(a, 'PUT', `/policies/${id}`, { quotaMax: 10, quotaRenewalRate: 0 });
      const { key } = await createKey({ applyPolicies: [id] });
      expect(await allowed(key, 6)).toBe(6);
      await ok(a, 'PUT', `/policies/${id}`, { quotaMax: 10, quotaRenewalRate: MONTH });
      await settle();
      expect(await allowed(key, 10)).toBe(4);
    });

    it('a per-API limit', async () => {
      const { key, keyId } = await createKey({ accessRights: { local: { limit: { quotaMax: 10, quotaRenewalRate: 0 } } } });
      expect(await allowed(key, 6)).toBe(6);
      await ok(a, 'PATCH', `/keys/${keyId}`, { accessRights: { local: { limit: { quotaMax: 10, quotaRenewalRate: MONTH } } } });
      expect(await allowed(key, 10)).toBe(4);
    });

    it('a plugin hook', async () => {
      const { key } = await createKey({ quotaMax: 10, quotaRenewalRate: 0 });
      expect(await allowed(key, 6)).toBe(6);
      expect(await allowed(key, 10, { 'x-set-renewal': String(MONTH) })).toBe(4);
    });

    it("the key's own field", async () => {
      const { key, keyId } = await createKey({ quotaMax: 10, quotaRenewalRate: 0 });
      expect(await allowed(key, 6)).toBe(6);
      await ok(b, 'PATCH', `/keys/${keyId}`, { quotaRenewalRate: MONTH });
      expect(await allowed(key, 10)).toBe(4);
    });

    it('a lifetime quota used up stays used up when it starts to renew', async () => {
      const id = `used-up-${randomUUID()}`;
      await ok(a, 'PUT', `/policies/${id}`, { quotaMax: 10, quotaRenewalRate: 0 });
      const { key } = await createKey({ applyPolicies: [id] });
      expect(await allowed(key, 12)).toBe(10);
      await ok(a, 'PUT', `/policies/${id}`, { quotaMax: 10, quotaRenewalRate: MONTH });
      await settle();
      expect(await allowed(key, 6)).toBe(0);
    });
  });

  it('a reset that read a key deleted and re-created before it lands never lands on the new key', async () => {
    const raw = `gp_reset-race-${randomUUID()}`;
    const { keyId } = await createKey({ key: raw, quotaMax: 10, quotaRenewalRate: MONTH });
    proxy.holdNext('TransactWriteItems', async () => {
      await ok(b, 'DELETE', `/keys/${keyId}`);
      await ok(b, 'POST', '/keys', { key: raw, quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: MONTH });
    });

    const reset = await admin(a, 'POST', `/keys/${keyId}/reset-quota`);

    expect(reset.status).toBe(404);
    expect(await allowed(raw, 6)).toBe(0);
  });

  it('a reset whose answer is lost applies once: the requests counted before the SDK re-sends it stay counted', async () => {
    const { key, keyId } = await createKey({ quotaMax: 10, quotaRenewalRate: MONTH });
    expect(await allowed(key, 12)).toBe(10);
    let between = 0;
    proxy.loseNextAnswer('TransactWriteItems', async () => {
      between = await allowed(key, 3);
    });

    const reset = await admin(a, 'POST', `/keys/${keyId}/reset-quota`);

    expect(reset.status).toBe(200);
    expect(between).toBe(3);
    expect(await allowed(key, 12)).toBe(7);
  });
});
