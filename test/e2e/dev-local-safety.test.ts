import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startDev } from '../../local/dev.ts';
import { dynamoEndpoint } from '../support/dynamo.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A config file with a table of its own. */
function configFile(): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-safety-'));
  const file = path.join(folder, 'gatepass.config.json');
  writeFileSync(file, JSON.stringify({ tableName: `e2e-${randomUUID()}` }));
  return file;
}

/** `gatepass dev` as a user starts it, with `env`; resolves once its banner is printed (or it exits). */
function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    // Each on a free console port: several run at once here.
    const child = spawn(process.execPath, ['bin/gatepass.mjs', 'dev', '--console-port', '0', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('Ctrl-C stops everything')) resolve({ child, stdout, stderr, code: null });
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ child, stdout, stderr, code }));
  });
}

/** Local addresses (`127.0.0.1`, `0.0.0.0`, `::`…) listening on TCP `port`, read from /proc/net/tcp{,6}. */
function listeningAddresses(port: number): string[] {
  const found: string[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || local === undefined) continue; // 0A: LISTEN
      const [address, portHex] = local.split(':') as [string, string];
      if (Number.parseInt(portHex, 16) !== port) continue;
      found.push(v6 ? (/^0+$/.test(address) ? '::' : address) : ipv4(address));
    }
  }
  return found;
}

/** /proc/net/tcp writes an IPv4 address as little-endian hex: 0100007F is 127.0.0.1. */
function ipv4(hex: string): string {
  return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.');
}

describe('gatepass dev keeps to this machine', { timeout: 180_000 }, () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGTERM');
  });

  it('binds its gateway and admin API to 127.0.0.1 only', async () => {
    const started = await startCli(['--port', '0', '--admin-port', '0', '--config', configFile(), '--dynamodb-endpoint', dynamoEndpoint()]);
    children.push(started.child);
    const ports = [...started.stdout.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    const gateway = Number(/gateway +http:\/\/127\.0\.0\.1:(\d+)/.exec(started.stdout)?.[1]);
    const admin = Number(/admin API +http:\/\/127\.0\.0\.1:(\d+)/.exec(started.stdout)?.[1]);
    expect(ports).toContain(gateway);
    expect(ports).toContain(admin);

    for (const port of [gateway, admin]) expect(listeningAddresses(port)).toEqual(['127.0.0.1']);
  });

  it('keeps the DynamoDB Local it starts to 127.0.0.1, in a network namespace of its own', async () => {
    const started = await startCli(['--port', '0', '--admin-port', '0', '--config', configFile(), '--no-seed']);
    children.push(started.child);
    const dynamodb = Number(/DynamoDB +http:\/\/127\.0\.0\.1:(\d+)/.exec(started.stdout)?.[1]);

    expect(started.stdout).not.toContain('WARNING');
    expect(listeningAddresses(dynamodb)).toEqual(['127.0.0.1']);
    const answer = await fetch(`http://127.0.0.1:${dynamodb}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x',
      },
      body: '{}',
    });
    expect(((await answer.json()) as { TableNames: string[] }).TableNames.length).toBeGreaterThan(0);
  });

  it('seeds one demo key with --data-dir, and finds it again on restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'gatepass-data-'));
    const config = configFile();
    try {
      const first = await startDev({ config, dataDir, port: 0, adminPort: 0 });
      await first.stop();
      const second = await startDev({ config, dataDir, port: 0, adminPort: 0 });
      try {
        const demo = first.seeded && 'demo' in first.seeded ? first.seeded.demo : undefined;
        expect(demo?.keyId).toMatch(/^[0-9a-f]{64}$/);
        expect(second.seeded).toEqual({ existing: { keyId: demo?.keyId } });
        const listed = (await (await fetch(`${second.adminUrl}/keys?alias=demo`)).json()) as { items: unknown[] };
        expect(listed.items).toHaveLength(1);
        // The first run's key still works: the data was kept, not re-seeded.
        expect((await fetch(`${second.gatewayUrl}/hello`, { headers: { Authorization: demo!.key } })).status).toBe(200);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says in one sentence that Java is missing, without a stack trace', async () => {
    // A PATH with node and nothing else: no java.
    const bin = mkdtempSync(path.join(tmpdir(), 'gatepass-nojava-'));
    symlinkSync(process.execPath, path.join(bin, 'node'));

    const run = await startCli(['--port', '0', '--admin-port', '0', '--config', configFile()], { ...process.env, PATH: bin });

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'gatepass: DynamoDB Local needs Java 17+: `java` was not found on PATH. On Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless (or use a running DynamoDB: --dynamodb-endpoint URL)\n',
    );
  });
});
