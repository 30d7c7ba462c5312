import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import { startTestDev } from '../support/dev.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node bin/gatepass.mjs …` as a user runs it. */
function gatepass(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/gatepass.mjs', ...args], { cwd: ROOT, env: { ...process.env, GATEPASS_ADMIN_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** The value column of a `label  value` line in human output. */
function valueOf(output: string, label: string): string | undefined {
  return output
    .split('\n')
    .find((l) => l.startsWith(`${label}  `))
    ?.slice(label.length)
    .trim();
}

describe('the CLI shows the limits in force', { timeout: 180_000 }, () => {
  let dev: DevServer;
  let admin: string[];

  beforeAll(async () => {
    dev = await startTestDev();
    admin = ['--admin-url', dev.adminUrl];
    const gold = await gatepass([
      'policies',
      'put',
      'gold',
      ...admin,
      '--rate',
      '10',
      '--per',
      '1s',
      '--quota-max',
      '10000',
      '--quota-renewal-rate',
      '30d',
    ]);
    expect(gold.code).toBe(0);
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it("create, get and list show policy gold's limits; update --quota-max 500 warns that gold overrides it", async () => {
    const created = await gatepass(['keys', 'create', ...admin, '--alias', 'acme-limits', '--policy', 'gold']);
    expect(created.code).toBe(0);
    expect(valueOf(created.stdout, 'quota')).toMatch(/^10000 of 10000 left \(every 30d, renews \d{4}-.*\), from policy gold$/);
    expect(valueOf(created.stdout, 'rate limit')).toBe('10 per 1s, from policy gold');
    const keyId = valueOf(created.stdout, 'keyId')!;

    const updated = await gatepass(['keys', 'update', keyId, ...admin, '--quota-max', '500']);
    expect(updated.code).toBe(0);
    expect(updated.stderr).toBe('gatepass: warning: quotaMax 500 is set on the key, but policy gold overrides it: 10000 is in force\n');
    expect(valueOf(updated.stdout, 'quota')).toMatch(/^10000 of 10000 left .*, from policy gold$/);
    expect(valueOf(updated.stdout, "key's own")).toBe('quota 500, rate none (overridden by its policies)');

    const shown = await gatepass(['keys', 'get', keyId, ...admin]);
    expect(valueOf(shown.stdout, 'quota')).toMatch(/^10000 of 10000 left .*, from policy gold$/);
    expect(valueOf(shown.stdout, 'rate limit')).toBe('10 per 1s, from policy gold');

    const json = JSON.parse((await gatepass(['keys', 'get', keyId, ...admin, '--json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      quotaMax: 500,
      limits: { quotaMax: { value: 10_000, source: 'policy:gold' }, rate: { value: 10, source: 'policy:gold' } },
    });

    // Listings read an index a moment behind the write: wait for the key to appear.
    let row: string[] | undefined;
    for (let i = 0; i < 20 && row === undefined; i += 1) {
      const listed = await gatepass(['keys', 'list', ...admin, '--alias', 'acme-limits']);
      row = listed.stdout
        .split('\n')
        .find((line) => line.startsWith(keyId))
        ?.split(/\s{2,}/);
    }
    expect(row?.slice(2, 5)).toEqual(['10000/10000', '10 per 1s', 'policy:gold']);
  });

  it('does not warn when the key sets what is in force', async () => {
    const created = await gatepass(['keys', 'create', ...admin, '--alias', 'own', '--quota-max', '3']);
    const keyId = valueOf(created.stdout, 'keyId')!;

    const updated = await gatepass(['keys', 'update', keyId, ...admin, '--quota-max', '4']);

    expect(updated.stderr).toBe('');
    expect(valueOf(updated.stdout, 'quota')).toBe('4 of 4 left (never renews), from key');
  });
});
