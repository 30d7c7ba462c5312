import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../lambdas/core/model/keys.ts';
import type { DevServer } from '../../local/dev.ts';
import { startTestDev } from '../support/dev.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node bin/gatepass.mjs …` as a user runs it, with optional standard input. */
function gatepass(args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/gatepass.mjs', ...args], {
      cwd: ROOT,
      env: { ...process.env, GATEPASS_ADMIN_URL: '', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** The value column of a `label  value` line in human output. */
function valueOf(output: string, label: string): string | undefined {
  const line = output.split('\n').find((l) => l.startsWith(`${label}  `));
  return line?.slice(label.length).trim();
}

describe('the gatepass CLI against a local stack', { timeout: 180_000 }, () => {
  let dev: DevServer;
  let admin: string[];
  const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-cli-'));

  beforeAll(async () => {
    dev = await startTestDev();
    admin = ['--admin-url', dev.adminUrl];
  });
  afterAll(async () => {
    await dev?.stop();
  });

  const hit = async (key: string, route = '/pets'): Promise<number> =>
    (await fetch(dev.gatewayUrl + route, { headers: { Authorization: key } })).status;

  it('runs a key through its lifecycle: create → list → explain → update → reset-quota → delete', async () => {
    // create
    const created = await gatepass([
      'keys',
      'create',
      ...admin,
      '--json',
      '--alias',
      'cli-user',
      '--quota-max',
      '5',
      '--quota-renewal-rate',
      '1h',
      '--rate',
      '10',
      '--per',
      '1m',
      '--expires-in',
      '30d',
      '--tag',
      'a',
      '--tag',
      'b',
      '--meta',
      'plan=gold',
    ]);
    expect(created.code).toBe(0);
    const { key, keyId, session } = JSON.parse(created.stdout) as { key: string; keyId: string; session: Record<string, unknown> };
    expect(keyId).toBe(keyIdOf(key));
    const now = Math.floor(Date.now() / 1000);
    expect(session).toMatchObject({
      alias: 'cli-user',
      quotaMax: 5,
      quotaRenewalRate: 3600,
      rate: 10,
      per: 60,
      tags: ['a', 'b'],
      metaData: { plan: 'gold' },
    });
    expect(session.expires as number).toBeGreaterThan(now + 30 * 86_400 - 120);
    expect(session.expires as number).toBeLessThanOrEqual(now + 30 * 86_400 + 5);
    expect(await hit(key)).toBe(200);

    // list, as JSON and as a table
    const [listJson, listTable] = await Promise.all([
      gatepass(['keys', 'list', ...admin, '--alias', 'cli-user', '--json']),
      gatepass(['keys', 'list', ...admin, '--alias', 'cli-user']),
    ]);
    expect((JSON.parse(listJson.stdout) as { items: Array<{ keyId: string }> }).items.map((s) => s.keyId)).toEqual([keyId]);
    const [header, row] = listTable.stdout.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['KEY ID', 'ALIAS', 'QUOTA', 'RATE', 'FROM', 'EXPIRES', 'STATUS']);
    expect(row!.split(/\s{2,}/)).toEqual([
      keyId,
      'cli-user',
      '4/5',
      '10 per 1m',
      'key',
      expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      'active',
    ]);

    // explain, as JSON and as a table
    const [explainJson, explainText] = await Promise.all([
      gatepass(['keys', 'explain', keyId, ...admin, '--path', '/pets', '--json']),
      gatepass(['keys', 'explain', keyId, ...admin, '--path', '/pets']),
    ]);
    expect(JSON.parse(explainJson.stdout)).toMatchObject({ decision: 'allow', effective: { limits: { rate: 10, per: 60, quotaMax: 5 } } });
    expect(explainText.stdout).toMatch(/^decision {2}ALLOW$/m);
    expect(explainText.stdout).toMatch(/^quota\s+pass\s+4 of 5 requests left/m);

    // update (PATCH with If-Match), then read it as a table
    const updated = await gatepass(['keys', 'update', keyId, ...admin, '--quota-max', '2', '--if-match', '1', '--json']);
    expect(updated.code).toBe(0);
    // 1 request used: a quota lowered to 2 leaves 1.
    expect(JSON.parse(updated.stdout)).toMatchObject({ quotaMax: 2, quotaRemaining: 1, version: 2, alias: 'cli-user' });
    const shown = await gatepass(['keys', 'get', keyId, ...admin]);
    expect(valueOf(shown.stdout, 'keyId')).toBe(keyId);
    expect(valueOf(shown.stdout, 'quota')).toMatch(/^1 of 2 left \(every 1h, renews \d{4}-.*\), from key$/);
    expect(valueOf(shown.stdout, 'rate limit')).toBe('10 per 1m, from key');
    expect(valueOf(shown.stdout, 'metadata')).toBe('plan=gold');

    // use the quota up (1 of 2 left); explain says why the next request is denied
    expect([await hit(key), await hit(key)]).toEqual([200, 403]);
    const denied = await gatepass(['keys', 'explain', keyId, ...admin, '--json']);
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.stdout)).toMatchObject({ decision: 'deny', reason: 'quota_exceeded' });

    // reset-quota: a change like any other, so the version moves (an If-Match re-send would be refused)
    const reset = await gatepass(['keys', 'reset-quota', keyId, ...admin, '--json']);
    expect(JSON.parse(reset.stdout)).toMatchObject({ quotaRemaining: 2, version: 3 });
    expect(await hit(key)).toBe(200);

    // delete
    const deleted = await gatepass(['keys', 'delete', keyId, ...admin]);
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted ${keyId}\n` });
    const gone = await gatepass(['keys', 'get', keyId, ...admin]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('404 not_found');
    expect(await hit(key)).toBe(403);
  });

  it('prints a created key once, with a warning, in the human output', async () => {
    const created = await gatepass(['keys', 'create', ...admin, '--alias', 'human']);

    expect(created.code).toBe(0);
    const key = valueOf(created.stdout, 'key');
    expect(key).toMatch(/^gp_[A-Za-z0-9_-]{43}$/);
    expect(created.stdout).toContain('shown only this once');
    expect(valueOf(created.stdout, 'keyId')).toBe(keyIdOf(key!));
    expect(valueOf(created.stdout, 'status')).toBe('active');
    expect(valueOf(created.stdout, 'expires')).toBe('never');
  });

  it("exits 1 with the API's error on stderr: a version conflict, a bad field, an unreachable admin API", async () => {
    const { keyId } = JSON.parse((await gatepass(['keys', 'create', ...admin, '--json'])).stdout) as { keyId: string };

    const [conflict, badField, unreachable] = await Promise.all([
      gatepass(['keys', 'update', keyId, ...admin, '--alias', 'x', '--if-match', '7']),
      gatepass(['keys', 'create', ...admin, '--rate', '5']),
      gatepass(['keys', 'list', '--admin-url', 'http://127.0.0.1:9']),
    ]);

    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^gatepass: 409 version_conflict: /);
    expect(conflict.stderr).toContain('"currentVersion":1');
    expect(badField.code).toBe(1);
    expect(badField.stderr).toContain('400 invalid_fields');
    expect(badField.stderr).toContain('  per: must be greater than 0 when rate is set');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach the admin API at http://127.0.0.1:9');
    expect(conflict.stdout + badField.stdout + unreachable.stdout).toBe('');
  });

  it('exits 2 on usage errors, before sending anything', async () => {
    const results = await Promise.all([
      gatepass(['keys', 'create', ...admin, '--expires-in', '3 days']),
      gatepass(['keys', 'get', 'not-a-key-id', ...admin]),
      gatepass(['keys', 'create', ...admin, '--function', 'gatepass-admin']),
      gatepass(['keys', 'frobnicate', ...admin]),
      gatepass(['keys', 'create', ...admin, '--meta', 'novalue']),
      gatepass(['keys', 'create', ...admin, '--body', path.join(folder, 'missing.json')]),
    ]);

    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(results[0]!.stderr).toContain('is not a duration');
    expect(results[2]!.stderr).toContain('cannot be used with option');
    expect(results[5]!.stderr).toContain('cannot read');
    // Nothing was created by any of them.
    const listed = JSON.parse((await gatepass(['keys', 'list', ...admin, '--json', '--limit', '100', '--all'])).stdout) as {
      items: unknown[];
    };
    const before = listed.items.length;
    await gatepass(['keys', 'create', ...admin, '--rate', 'fast']);
    const after = JSON.parse((await gatepass(['keys', 'list', ...admin, '--json', '--limit', '100', '--all'])).stdout) as {
      items: unknown[];
    };
    expect(after.items.length).toBe(before);
  });

  it('reads the admin URL from GATEPASS_ADMIN_URL and a raw JSON body from standard input', async () => {
    const created = await gatepass(['keys', 'create', '--body', '-', '--alias', 'from-options', '--json'], {
      input: JSON.stringify({ alias: 'from-body', quotaMax: 7, metaData: { tier: 3 } }),
      env: { GATEPASS_ADMIN_URL: dev.adminUrl },
    });

    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).session).toMatchObject({ alias: 'from-options', quotaMax: 7, metaData: { tier: 3 } });
  });

  it('imports a Tyk policy and a Tyk session, and the key authorizes as it did in Tyk', async () => {
    const policyFile = path.join(folder, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({ id: 'abc', name: 'Silver', rate: 50, per: 1, quota_max: 1, quota_renewal_rate: 3600, active: true, org_id: 'o1' }),
    );
    // As Tyk exports an unused key: quota_remaining computed under its policy's quota (absent would mean used up).
    const session = {
      expires: -1,
      apply_policies: ['cli-silver'],
      quota_remaining: 1,
      access_rights: { local: { allowed_urls: [{ url: '/pets', methods: ['GET'] }] } },
      org_id: 'o1',
    };

    const policy = await gatepass(['policies', 'put', 'cli-silver', '--tyk', policyFile, ...admin]);
    const imported = await gatepass(['keys', 'import-tyk', '-', '--key', 'tyk-cli-key-0000000001', ...admin, '--json'], {
      input: JSON.stringify(session),
    });

    expect(policy.code).toBe(0);
    expect(valueOf(policy.stdout, 'name')).toBe('Silver');
    expect(valueOf(policy.stdout, 'quota')).toBe('1 (every 1h)');
    expect(policy.stdout).toContain('ignored Tyk fields: id, org_id');
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ keyId: keyIdOf('tyk-cli-key-0000000001'), ignoredFields: ['org_id'] });
    expect([await hit('tyk-cli-key-0000000001', '/api/pets'), await hit('tyk-cli-key-0000000001', '/api/pets')]).toEqual([200, 403]);
  });

  it('manages policies: put with options, get, list as a table, delete', async () => {
    const put = await gatepass([
      'policies',
      'put',
      'cli-bronze',
      ...admin,
      '--name',
      'Bronze',
      '--rate',
      '5',
      '--per',
      '1s',
      '--quota-max',
      '100',
      '--quota-renewal-rate',
      '1d',
      '--key-expires-in',
      '30d',
      '--json',
    ]);
    const [got, listed, created] = await Promise.all([
      gatepass(['policies', 'get', 'cli-bronze', ...admin, '--json']),
      gatepass(['policies', 'list', ...admin]),
      gatepass(['policies', 'put', 'cli-bronze', ...admin, '--create-only']),
    ]);
    const deleted = await gatepass(['policies', 'delete', 'cli-bronze', ...admin]);
    const missing = await gatepass(['policies', 'get', 'cli-bronze', ...admin]);

    expect(put.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({
      id: 'cli-bronze',
      name: 'Bronze',
      rate: 5,
      per: 1,
      quotaMax: 100,
      quotaRenewalRate: 86_400,
      keyExpiresIn: 2_592_000,
    });
    const row = listed.stdout.split('\n').find((line) => line.startsWith('cli-bronze'));
    expect(row!.split(/\s{2,}/)).toEqual(['cli-bronze', 'Bronze', '100/1d', '5 per 1s', '30d', 'active', '1']);
    expect(created.code).toBe(1);
    expect(created.stderr).toContain('409');
    expect(deleted.stdout).toBe('deleted cli-bronze\n');
    expect(missing.code).toBe(1);
  });
});
