import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dynamoEndpoint } from '../support/dynamo.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** `gatepass dev` (what `npm start` runs) on free ports; resolves with its banner once it has printed it. */
function startDevCli(): Promise<{ child: ChildProcess; banner: string }> {
  const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-console-start-'));
  const config = path.join(folder, 'gatepass.config.json');
  writeFileSync(config, JSON.stringify({ tableName: `e2e-${randomUUID()}` }));
  const args = [
    'dev',
    '--config',
    config,
    '--port',
    '0',
    '--admin-port',
    '0',
    '--console-port',
    '0',
    '--dynamodb-endpoint',
    dynamoEndpoint(),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/gatepass.mjs', ...args], { cwd: ROOT, env: process.env });
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Ctrl-C stops everything.')) resolve({ child, banner: out });
    });
    child.on('exit', (code) => reject(new Error(`gatepass dev exited with ${code}: ${out}`)));
    child.on('error', reject);
  });
}

describe('npm start (gatepass dev)', { timeout: 90_000 }, () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('serves the web console and prints its URL, token included, in the banner', async () => {
    const started = await startDevCli();
    child = started.child;
    const url = /console {4}(http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}) /.exec(started.banner)?.[1];
    expect(url, started.banner).toBeDefined();

    const signIn = await fetch(url!, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(new URL('/', url), { headers: { cookie } });
    expect(await page.text()).toContain('<title>gatepass console</title>');
    const keys = await fetch(new URL('/api/keys?alias=demo', url), { headers: { cookie } });
    expect(((await keys.json()) as { items: { alias: string }[] }).items.map((key) => key.alias)).toEqual(['demo']);
  });
});
