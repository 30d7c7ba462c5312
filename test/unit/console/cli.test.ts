import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** A stand-in for the deployed admin API: records the headers of each request, answers `{items: []}`. */
async function fakeAdmin(): Promise<{ server: Server; url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ items: [], cursor: null, path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** `gatepass console …` as a user runs it; resolves with its URL once it prints it. */
function startCli(args: readonly string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/gatepass.mjs', 'console', ...args], {
      cwd: ROOT,
      env: { ...process.env, GATEPASS_ADMIN_URL: '' },
    });
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const url = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out)?.[1];
      if (url) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`gatepass console exited with ${code}: ${out}`)));
    child.on('error', reject);
  });
}

/** Opens the printed URL, keeps the cookie, and GETs `route` through the console. */
async function throughConsole(url: string, route: string): Promise<Response> {
  const signIn = await fetch(url, { redirect: 'manual' });
  expect(signIn.status).toBe(303);
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
  return fetch(new URL(route, url), { headers: { cookie } });
}

describe('gatepass console', { timeout: 60_000 }, () => {
  let admin: Awaited<ReturnType<typeof fakeAdmin>>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    admin = await fakeAdmin();
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await new Promise<void>((resolve) => admin?.server.close(() => resolve()));
  });

  it('signs each forwarded call with SigV4 for a deployed admin API, and the browser never sees a credential', async () => {
    const { child, url } = await startCli(['--admin-url', admin.url, '--region', 'eu-west-1', '--port', '0']);
    children.push(child);
    const res = await throughConsole(url, '/api/keys?limit=5');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ path: '/keys?limit=5' });
    const signed = admin.seen.at(-1)!;
    expect(signed.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=/);
    expect(signed['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(signed.cookie).toBeUndefined();
    expect([...res.headers.keys()].filter((name) => /authorization|amz/i.test(name))).toEqual([]);
  });

  it('calls a local admin URL unsigned', async () => {
    const { child, url } = await startCli(['--admin-url', admin.url, '--port', '0']);
    children.push(child);
    const res = await throughConsole(url, '/api/policies');
    expect(res.status).toBe(200);
    expect(admin.seen.at(-1)!.authorization).toBeUndefined();
  });
});
