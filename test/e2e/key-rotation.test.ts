import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';

/**
 * Key rotation over HTTP, through two gateway instances on one DynamoDB Local table: during
 * the grace both keys are one session (one quota), after it the old key is refused.
 */
describe('key rotation', () => {
  let a: DevServer;
  let b: DevServer;
  beforeAll(async () => {
    const shared = { tableName: `e2e-rotation-${randomUUID()}` };
    a = await startTestDev(shared);
    b = await startTestDev(shared);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  const call = async (dev: DevServer, key: string) => {
    const res = await fetch(`${dev.gatewayUrl}/pets`, { headers: { authorization: key } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const rotate = async (keyId: string, body: unknown) => {
    const res = await fetch(`${a.adminUrl}/keys/${keyId}/rotate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { key: string; keyId: string; session: Record<string, unknown> } };
  };

  it('shares one quota between the old and the new key during the grace, then refuses the old key', async () => {
    const { key: old, keyId } = await createKey(a, { quotaMax: 10, quotaRenewalRate: 3600 });
    for (let i = 0; i < 3; i++) expect((await call(i % 2 ? a : b, old)).status).toBe(200);

    const rotated = await rotate(keyId, { graceSeconds: 2 });
    expect(rotated.status).toBe(201);
    expect(rotated.body.key).toMatch(/^gp_/);
    expect(rotated.body.keyId).not.toBe(keyId);
    expect(rotated.body.session).toMatchObject({ quotaRemaining: 7 });

    // Both keys, at once, on both instances: one count.
    const both = await Promise.all([a, b, a, b].flatMap((dev) => [call(dev, old), call(dev, rotated.body.key)]));
    expect(both.filter((r) => r.status === 200)).toHaveLength(7);
    expect(both.filter((r) => r.status === 403).every((r) => r.body.reason === 'quota_exceeded')).toBe(true);
    const byNewId = await fetch(`${a.adminUrl}/keys/${rotated.body.keyId}`);
    expect(await byNewId.json()).toMatchObject({ keyId, quotaRemaining: 0 });

    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await call(a, old)).body).toMatchObject({ reason: 'key_not_found' });
    expect((await call(b, old)).body).toMatchObject({ reason: 'key_not_found' });
    expect((await call(a, rotated.body.key)).body).toMatchObject({ reason: 'quota_exceeded' });
  });

  it('refuses the old key at once with no grace, and the new key answers as the same principal', async () => {
    const { key: old, keyId } = await createKey(a, {});
    expect((await call(a, old)).status).toBe(200); // instance a remembers the old key's settings

    const rotated = await rotate(keyId, {});

    expect((await call(a, old)).body).toMatchObject({ reason: 'key_not_found' });
    const answer = await call(b, rotated.body.key);
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).toContain(keyId); // the echo shows the authorizer context: the session's key id
  });

  it('answers 400 for a bad grace and 404 for an unknown key, writing nothing', async () => {
    const { keyId } = await createKey(a, {});
    expect((await rotate(keyId, { graceSeconds: -1 })).status).toBe(400);
    expect((await rotate(keyId, { grace: 5 })).status).toBe(400);
    expect((await rotate('0'.repeat(64), {})).status).toBe(404);
    const session = await (await fetch(`${a.adminUrl}/keys/${keyId}`)).json();
    expect(session).toMatchObject({ version: 1 });
    expect(session).not.toHaveProperty('keys');
  });

  it('deletes the keys rotated into a session with it: both are refused, and the raw keys can be imported again', async () => {
    const { key: old, keyId } = await createKey(a, {});
    const rotated = await rotate(keyId, { graceSeconds: 3600 });
    expect((await call(b, rotated.body.key)).status).toBe(200);

    expect((await fetch(`${a.adminUrl}/keys/${rotated.body.keyId}`, { method: 'DELETE' })).status).toBe(204);

    expect((await call(a, old)).body).toMatchObject({ reason: 'key_not_found' });
    expect((await call(b, rotated.body.key)).body).toMatchObject({ reason: 'key_not_found' });
    const imported = await fetch(`${a.adminUrl}/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: rotated.body.key, alias: 'again' }),
    });
    expect(imported.status).toBe(201);
    expect((await call(b, rotated.body.key)).status).toBe(200);
  });
});
