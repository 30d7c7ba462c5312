import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';
import { captureLogs } from '../support/jwt-gateway.ts';

describe('the audit line of admin writes, over HTTP on DynamoDB Local', { timeout: 120_000 }, () => {
  const logs = captureLogs();
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev();
  });
  afterAll(async () => {
    await dev?.stop();
  });

  const audits = (target: string) => logs().filter((line) => line.message === 'admin audit' && line.target === target);
  const send = (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(dev.adminUrl + route, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('create → update → reset → delete print four lines, caller local, with the versions before and after', async () => {
    const { key, keyId } = await createKey(dev, { alias: 'audited', quotaMax: 5 });
    expect((await send('PATCH', `/keys/${keyId}`, { quotaMax: 9 })).status).toBe(200);
    expect((await send('POST', `/keys/${keyId}/reset-quota`, undefined, { 'if-match': '2' })).status).toBe(200);
    expect((await send('DELETE', `/keys/${keyId}`, undefined, { 'if-match': '3' })).status).toBe(204);

    const lines = audits(keyId);
    expect(
      lines.map(({ action, versionBefore, versionAfter, outcome, caller }) => ({ action, versionBefore, versionAfter, outcome, caller })),
    ).toEqual([
      { action: 'keys.create', versionBefore: undefined, versionAfter: 1, outcome: 'ok', caller: 'local' },
      { action: 'keys.update', versionBefore: 1, versionAfter: 2, outcome: 'ok', caller: 'local' },
      { action: 'keys.reset-quota', versionBefore: 2, versionAfter: 3, outcome: 'ok', caller: 'local' },
      { action: 'keys.delete', versionBefore: 3, versionAfter: undefined, outcome: 'ok', caller: 'local' },
    ]);
    for (const line of lines) expect(Date.parse(line.time as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.stringify(logs())).not.toContain(key);
  });

  it('records a refused write with its error code, and no line for a read', async () => {
    const { keyId } = await createKey(dev, { alias: 'refused' });
    const before = logs().filter((line) => line.message === 'admin audit').length;

    expect((await send('PATCH', `/keys/${keyId}`, { quotaMax: 2 }, { 'if-match': '7' })).status).toBe(409);
    expect((await fetch(`${dev.adminUrl}/keys/${keyId}`)).status).toBe(200);

    expect(logs().filter((line) => line.message === 'admin audit')).toHaveLength(before + 1);
    expect(audits(keyId).at(-1)).toMatchObject({ action: 'keys.update', versionBefore: 1, outcome: 'version_conflict', status: 409 });
  });

  it('audits policy writes by policy id', async () => {
    expect((await send('PUT', '/policies/audit-gold', { quotaMax: 10 })).status).toBe(200);
    expect((await send('PUT', '/policies/audit-gold', { quotaMax: 20 })).status).toBe(200);
    expect((await send('DELETE', '/policies/audit-gold')).status).toBe(204);

    expect(audits('audit-gold').map(({ action, versionBefore, versionAfter }) => [action, versionBefore, versionAfter])).toEqual([
      ['policies.put', undefined, 1],
      ['policies.put', 1, 2],
      ['policies.delete', undefined, undefined],
    ]);
  });

  it('audits a rotation under the key it rotated, with its versions, and never prints either raw key', async () => {
    const { key, keyId } = await createKey(dev, { alias: 'rotated' });

    const res = await send('POST', `/keys/${keyId}/rotate`, { graceSeconds: 60 });
    const { key: newKey } = (await res.json()) as { key: string };

    expect(res.status).toBe(201);
    expect(
      audits(keyId).map(({ action, versionBefore, versionAfter, outcome }) => ({ action, versionBefore, versionAfter, outcome })),
    ).toEqual([
      { action: 'keys.create', versionAfter: 1, outcome: 'ok' },
      { action: 'keys.rotate', versionBefore: 1, versionAfter: 2, outcome: 'ok' },
    ]);
    const printed = JSON.stringify(logs());
    expect(printed).not.toContain(key);
    expect(printed).not.toContain(newKey);
  });
});
