import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';

/**
 * Per-key usage and the access log of `gatepass dev`, over HTTP: requests through the local
 * gateway are counted in process by the aggregator's code on DynamoDB Local, the admin API
 * answers `GET /keys/{keyId}/usage`, `gatepass keys usage` prints it, and every request
 * gets one access log line.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');

function gatepass(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/gatepass.mjs', ...args], { cwd: ROOT, env: { ...process.env, GATEPASS_ADMIN_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('usage and the access log of the local stack', { timeout: 180_000 }, () => {
  let dev: DevServer;
  const accessLog: string[] = [];
  let keyId: string;
  let key: string;
  const today = new Date().toISOString().slice(0, 10);

  const hit = (authorization?: string) =>
    fetch(`${dev.gatewayUrl}/pets`, { headers: authorization === undefined ? {} : { Authorization: authorization } }).then(
      (res) => res.status,
    );
  const usageOf = (id: string, query = '') => fetch(`${dev.adminUrl}/keys/${id}/usage${query}`);

  beforeAll(async () => {
    dev = await startTestDev({}, { accessLog: (line) => accessLog.push(line) });
    ({ key, keyId } = await createKey(dev, { alias: 'usage', quotaMax: 3 }));
    // 8 requests at once on a quota of 3, then two that name no key.
    const statuses = await Promise.all(Array.from({ length: 8 }, () => hit(key)));
    expect(statuses.sort()).toEqual([200, 200, 200, 403, 403, 403, 403, 403]);
    expect(await hit()).toBe(401);
    expect(await hit('gp_not-a-key-of-ours-at-all')).toBe(403);
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it('answers the usage route from DynamoDB Local: exact numbers per day, newest first, 30 days by default', async () => {
    const res = await usageOf(keyId);

    expect(res.status).toBe(200);
    const body = (await res.json()) as { keyId: string; days: Array<{ day: string }>; totals: unknown };
    expect(body.keyId).toBe(keyId);
    expect(body.days).toHaveLength(30);
    expect(body.days[0]).toEqual({ day: today, allowed: 3, denied: { quota_exceeded: 5 } });
    expect(body.days.slice(1).every((d) => JSON.stringify(d) === JSON.stringify({ day: d.day, allowed: 0, denied: {} }))).toBe(true);
    expect(body.days.map((d) => d.day)).toEqual([...body.days.map((d) => d.day)].sort().reverse());
    expect(body.totals).toEqual({ allowed: 3, denied: { quota_exceeded: 5 } });
  });

  it('answers ?days=N for 1 to 90 days, and 400 naming the parameter otherwise', async () => {
    expect(((await (await usageOf(keyId, '?days=7')).json()) as { days: unknown[] }).days).toHaveLength(7);
    expect(((await (await usageOf(keyId, '?days=90')).json()) as { days: unknown[] }).days).toHaveLength(90);
    for (const query of ['?days=0', '?days=91', '?days=week', '?day=7']) {
      const res = await usageOf(keyId, query);
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; details: Array<{ field: string }> } };
      expect(error.code).toBe('invalid_fields');
      expect(error.details.map((d) => d.field)).toEqual([query.slice(1).split('=')[0]]);
    }
  });

  it('writes one access log line per request: time, method, path, status, reason, masked key, latency, DynamoDB requests', () => {
    // The gateway's lines; the admin API's requests have lines of their own (`… admin POST /keys 201 ok …`).
    const gatewayLines = accessLog.filter((line) => !line.includes(' admin '));
    expect(gatewayLines).toHaveLength(10);
    const pattern = /^(\S+Z) GET \/pets (\d{3}) (\S+) key=(\S+) (\d+)ms dynamodb=(\d+)$/;
    const parsed = gatewayLines.map((line) => {
      const match = pattern.exec(line);
      expect(match, line).not.toBeNull();
      return { status: match![2], reason: match![3], key: match![4], dynamodb: Number(match![6]) };
    });
    expect(parsed.filter((p) => p.reason === 'allowed' && p.status === '200' && p.key === `****${key.slice(-4)}`)).toHaveLength(3);
    expect(parsed.filter((p) => p.reason === 'quota_exceeded' && p.status === '403')).toHaveLength(5);
    expect(parsed).toContainEqual(expect.objectContaining({ status: '401', reason: 'missing_credential', key: '-', dynamodb: 0 }));
    expect(parsed).toContainEqual(expect.objectContaining({ status: '403', reason: 'key_not_found', key: '****-all', dynamodb: 1 }));
    expect(parsed.every((p) => p.dynamodb >= 0)).toBe(true);
    expect(accessLog.join('\n')).not.toContain(key);
  });

  it('prints a table by day with `gatepass keys usage`, and the JSON with --json', async () => {
    const human = await gatepass(['keys', 'usage', keyId, '--days', '3', '--admin-url', dev.adminUrl]);

    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`usage of ${keyId}, last 3 days (UTC)`);
    expect(lines[2]!.split(/\s+/)).toEqual(['DAY', 'ALLOWED', 'DENIED', 'quota_exceeded']);
    expect(lines[3]!.split(/\s+/)).toEqual([today, '3', '5', '5']);
    expect(lines.at(-1)!.split(/\s+/)).toEqual(['TOTAL', '3', '5', '5']);
    expect(lines).toHaveLength(7);

    const json = await gatepass(['keys', 'usage', keyId, '--json', '--admin-url', dev.adminUrl]);
    expect(JSON.parse(json.stdout)).toEqual(await (await usageOf(keyId)).json());
  });

  it('refuses --days outside 1 to 90 before calling the admin API (exit code 2)', async () => {
    const run = await gatepass(['keys', 'usage', keyId, '--days', '91', '--admin-url', dev.adminUrl]);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('1 to 90');
  });
});
