import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sessionKeyOf } from '../../examples/plugins/custom-auth.ts';
import { IP_DENIED_MESSAGE } from '../../examples/plugins/ip-deny.ts';
import type { DevServer } from '../../local/dev.ts';
import { findFreePort } from '../../local/ports.ts';
import { createKey, startTestDev } from '../support/dev.ts';
import { dynamoEndpoint } from '../support/dynamo.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/plugins');
const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/plugins');
const example = (name: string) => path.join(EXAMPLES, name);
const fixture = (name: string) => path.join(FIXTURES, name);

const AUTHORIZER_FAILURE = { error: 'Authorizer failure', reason: 'authorizer_failure' };
/** API Gateway's own message for a Deny, which every 403 body carries after gatepass's fields. */
const EXPLICIT_DENY = 'User is not authorized to access this resource with an explicit deny';
const SESSION_EXPIRED = { error: 'Key has expired, please renew', reason: 'session_expired', message: EXPLICIT_DENY };

const nowS = () => Math.floor(Date.now() / 1000);

interface Echo {
  authorizer: Record<string, string>;
}

interface SessionJson {
  expires: number;
  quotaMax: number;
  quotaRemaining: number;
  quotaRenews: number;
  version: number;
}

function call(dev: DevServer, headers: Record<string, string> = {}, route = '/pets'): Promise<Response> {
  return fetch(`${dev.gatewayUrl}${route}`, { headers });
}

/** The key's session as the admin API shows it (GET /keys/{keyId}). */
async function sessionOf(dev: DevServer, keyId: string): Promise<SessionJson> {
  const res = await fetch(`${dev.adminUrl}/keys/${keyId}`);
  if (res.status !== 200) throw new Error(`GET /keys/${keyId} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as SessionJson;
}

async function patchSession(dev: DevServer, keyId: string, patch: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${dev.adminUrl}/keys/${keyId}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patch),
  });
  if (res.status !== 200) throw new Error(`PATCH /keys/${keyId} answered ${res.status}: ${await res.text()}`);
}

/**
 * Everything the handlers print, from this file's start. Powertools writes JSON lines:
 * INFO and DEBUG to stdout, WARN and ERROR to stderr.
 */
const logLines: string[] = [];
const logsSince = (mark: number) => logLines.slice(mark).join('');

function capture(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream);
  vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    logLines.push(String(chunk));
    return write(chunk as string, ...(rest as []));
  }) as typeof stream.write);
}

beforeAll(() => {
  capture(process.stdout);
  capture(process.stderr);
});
afterAll(() => {
  vi.restoreAllMocks();
});

describe('renew-on-expiry, end to end over HTTP', () => {
  let renewing: DevServer;
  let plain: DevServer;

  beforeAll(async () => {
    renewing = await startTestDev({ plugins: [example('renew-on-expiry.ts')] });
    // The same table, without the plugin: what the Tyk forum thread reported (still "Key has expired, please renew").
    plain = await startTestDev({ tableName: renewing.tableName });
  });
  afterAll(async () => {
    await renewing?.stop();
    await plain?.stop();
  });

  it('allows, on the same request, a key whose session expired more than 24 h ago, and stores the renewal', async () => {
    const { key, keyId } = await createKey(plain, { quotaMax: 10, expires: nowS() - 86_400 - 60 });

    const without = await call(plain, { Authorization: key });
    expect(without.status).toBe(403);
    expect(await without.json()).toEqual(SESSION_EXPIRED);

    const before = nowS();
    const res = await call(renewing, { Authorization: key });
    const after = nowS();

    expect(res.status).toBe(200);
    const stored = await sessionOf(renewing, keyId);
    expect(stored.expires).toBeGreaterThanOrEqual(before + 60);
    expect(stored.expires).toBeLessThanOrEqual(after + 60);
    expect(((await res.json()) as Echo).authorizer.expires).toBe(String(stored.expires));
    expect(stored.quotaRemaining).toBe(9);

    // Stored, not cached: the gateway without the plugin now allows the key too.
    expect((await call(plain, { Authorization: key })).status).toBe(200);
  });

  it('allows a key expiring in this very second, and stores the renewal', async () => {
    const expires = nowS();
    const { key, keyId } = await createKey(plain, { expires });

    const without = await call(plain, { Authorization: key });
    expect(without.status).toBe(403);
    expect(await without.json()).toEqual(SESSION_EXPIRED);

    const res = await call(renewing, { Authorization: key });

    expect(res.status).toBe(200);
    const stored = await sessionOf(renewing, keyId);
    expect(stored.expires).toBeGreaterThanOrEqual(expires + 60);
    expect(stored.version).toBe(2);
  });

  it('does not write a session that is far from expiry', async () => {
    const expires = nowS() + 3600;
    const { key, keyId } = await createKey(plain, { expires });

    expect((await call(renewing, { Authorization: key })).status).toBe(200);

    expect(await sessionOf(renewing, keyId)).toMatchObject({ expires, version: 1 });
  });
});

describe('renew-on-expiry under 100 concurrent requests', () => {
  let renewing: DevServer;
  let resetting: DevServer;

  beforeAll(async () => {
    renewing = await startTestDev({ plugins: [example('renew-on-expiry.ts')] });
    resetting = await startTestDev({ plugins: [fixture('renew-reset-quota.ts')] });
  });
  afterAll(async () => {
    await renewing?.stop();
    await resetting?.stop();
  });

  it('allows all 100 on an expired key and loses no decrement to the renewals', async () => {
    const { key, keyId } = await createKey(renewing, { quotaMax: 1000, quotaRenewalRate: 3600, expires: nowS() - 86_400 });

    const statuses = await Promise.all(Array.from({ length: 100 }, async () => (await call(renewing, { Authorization: key })).status));

    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    const stored = await sessionOf(renewing, keyId);
    expect(stored.quotaRemaining).toBe(1000 - 100);
    expect(stored.expires).toBeGreaterThan(nowS() - 60);
    expect(stored.version).toBe(2); // renewed exactly once
  });

  it('with resetQuota, resets the quota once, before any decrement', async () => {
    // Only 5 requests left in the window: without the reset, 95 of the 100 would be denied.
    const { key, keyId } = await createKey(resetting, {
      quotaMax: 1000,
      quotaRemaining: 5,
      quotaRenewalRate: 3600,
      expires: nowS() - 86_400,
    });

    const statuses = await Promise.all(Array.from({ length: 100 }, async () => (await call(resetting, { Authorization: key })).status));

    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    const stored = await sessionOf(resetting, keyId);
    expect(stored.quotaRemaining).toBe(1000 - 100);
    expect(stored.version).toBe(2);
  });
});

describe('custom-auth, end to end over HTTP', () => {
  let dev: DevServer;
  let withRenewal: DevServer;

  beforeAll(async () => {
    dev = await startTestDev({ plugins: [example('custom-auth.ts')] });
    withRenewal = await startTestDev({ plugins: [example('custom-auth.ts'), example('renew-on-expiry.ts')] });
  });
  afterAll(async () => {
    await dev?.stop();
    await withRenewal?.stop();
  });

  it('allows the first request of a never-seen token, then reuses its session (the quota counts down)', async () => {
    const token = `tok-${randomUUID()}`;

    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(dev, { 'X-Auth-Token': token });
      expect(res.status).toBe(200);
      remaining.push(((await res.json()) as Echo).authorizer.quotaRemaining!);
    }

    expect(remaining).toEqual(['999', '998', '997']);
    const keyId = createHash('sha256').update(sessionKeyOf(token)).digest('hex');
    expect(await sessionOf(dev, keyId)).toMatchObject({ quotaMax: 1000, quotaRemaining: 997, version: 1 });
  });

  it('denies a request without the token with 403 missing_token, even with an API key header', async () => {
    const res = await call(dev, { Authorization: 'gp_some-api-key-that-is-long-enough' });

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'Auth token missing', reason: 'missing_token', message: EXPLICIT_DENY });
  });

  it("with renew-on-expiry after it, allows the request Tyk refused (a JSVM plugin's TykSetKeyData renewal): a session expired 24 h ago is renewed on the same request", async () => {
    const token = `tok-${randomUUID()}`;
    expect((await call(withRenewal, { 'x-auth-token': token })).status).toBe(200);
    const keyId = createHash('sha256').update(sessionKeyOf(token)).digest('hex');
    await patchSession(withRenewal, keyId, { expires: nowS() - 86_400 });

    const res = await call(withRenewal, { 'x-auth-token': token });

    expect(res.status).toBe(200);
    expect((await sessionOf(withRenewal, keyId)).expires).toBeGreaterThan(nowS());
  });
});

describe('ip-deny, end to end over HTTP', () => {
  let loopbackDenied: DevServer;
  let elsewhereDenied: DevServer;

  beforeAll(async () => {
    loopbackDenied = await startTestDev({ plugins: [fixture('ip-deny-loopback.ts')] });
    elsewhereDenied = await startTestDev({ plugins: [fixture('ip-deny-elsewhere.ts')] });
  });
  afterAll(async () => {
    await loopbackDenied?.stop();
    await elsewhereDenied?.stop();
  });

  it("denies a listed source address with 403 ip_denied and the plugin's message, before reading any key", async () => {
    const { key } = await createKey(loopbackDenied);

    const withKey = await call(loopbackDenied, { Authorization: key });
    const withoutKey = await call(loopbackDenied);

    expect(withKey.status).toBe(403);
    expect(await withKey.json()).toEqual({ error: IP_DENIED_MESSAGE, reason: 'ip_denied', message: EXPLICIT_DENY });
    expect(withoutKey.status).toBe(403);
  });

  it('lets other source addresses through to the rest of the pipeline', async () => {
    const { key } = await createKey(elsewhereDenied);

    expect((await call(elsewhereDenied, { Authorization: key })).status).toBe(200);
    expect((await call(elsewhereDenied)).status).toBe(401);
  });
});

describe('plugins that throw, hang or deny', () => {
  let dev: DevServer;
  let key: string;

  beforeAll(async () => {
    dev = await startTestDev({
      plugins: [fixture('throws.mjs'), fixture('hangs.ts'), fixture('denies.mjs')],
      hookTimeoutMs: 200,
    });
    ({ key } = await createKey(dev));
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it("answers 500 when a hook throws, logs the plugin's name, and keeps serving", async () => {
    const mark = logLines.length;

    const res = await call(dev, { Authorization: key, 'x-fixture': 'throw' });

    expect(res.status).toBe(500);
    expect(await res.json()).toEqual(AUTHORIZER_FAILURE);
    expect(logsSince(mark)).toMatch(/plugin throws: postAuth hook threw: fixture exploded on purpose/);
    expect((await call(dev, { Authorization: key })).status).toBe(200);
  });

  it("answers 500 when a hook runs past hookTimeoutMs, logs the plugin's name, and keeps serving", async () => {
    const mark = logLines.length;

    const res = await call(dev, { Authorization: key, 'x-fixture': 'hang' });

    expect(res.status).toBe(500);
    expect(await res.json()).toEqual(AUTHORIZER_FAILURE);
    expect(logsSince(mark)).toMatch(/plugin hangs: pre hook ran past 200 ms/);
    expect((await call(dev, { Authorization: key })).status).toBe(200);
  });

  it("answers 403 with the denying hook's reason and its message, made safe for the JSON template", async () => {
    const res = await call(dev, { Authorization: key, 'x-fixture': 'deny' });

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'Closed for maintenance  backsoon', reason: 'under_maintenance', message: EXPLICIT_DENY });
    expect((await call(dev, { Authorization: key })).status).toBe(200);
  });
});

describe('plugins that fail to load', () => {
  let missing: DevServer;
  let noDefault: DevServer;
  const missingFile = fixture('does-not-exist.mjs');
  const noDefaultFile = fixture('no-default.mjs');

  beforeAll(async () => {
    missing = await startTestDev({ plugins: [missingFile] });
    noDefault = await startTestDev({ plugins: [noDefaultFile] });
  });
  afterAll(async () => {
    await missing?.stop();
    await noDefault?.stop();
  });

  it.each([
    ['a missing file', () => missing, missingFile, /failed to load/],
    ['a module without a default export', () => noDefault, noDefaultFile, /has no default export/],
  ])('fails every request closed with 500 for %s, with a log line naming the plugin', async (_what, devOf, file, problem) => {
    const dev = devOf();
    const { key } = await createKey(dev);
    const mark = logLines.length;

    const answers = [
      await call(dev, { Authorization: key }),
      await call(dev),
      await call(dev, { Authorization: 'gp_unknown-key-0123456789' }),
    ];

    expect(answers.map((r) => r.status)).toEqual([500, 500, 500]);
    for (const res of answers) expect(await res.json()).toEqual(AUTHORIZER_FAILURE);
    const misconfigured = logsSince(mark)
      .split('\n')
      .filter((line) => line.includes('authorizer misconfigured'));
    expect(misconfigured).toHaveLength(3);
    for (const line of misconfigured) {
      expect(line).toContain(`plugin ${file}`);
      expect(line).toMatch(problem);
    }
  });
});

/** A TypeScript plugin, with types, in a folder that has no package.json (so CommonJS to Node). */
const BARE_PLUGIN = `interface Ctx { readonly request: { readonly path: string } }

export default {
  name: 'bare-folder',
  async pre(ctx: Ctx) {
    if (ctx.request.path === '/blocked') return { deny: { reason: 'blocked_here', message: 'Blocked by a bare plugin' } };
    return undefined;
  },
};
`;

describe('a TypeScript plugin in a folder without package.json, under `gatepass dev` (npm start)', () => {
  let folder: string;
  let child: ChildProcess;
  let gatewayUrl: string;
  let output = '';

  beforeAll(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'gatepass-bare-plugin-'));
    writeFileSync(path.join(folder, 'bare-plugin.ts'), BARE_PLUGIN);
    writeFileSync(
      path.join(folder, 'gatepass.config.json'),
      JSON.stringify({ tableName: `bare-${randomUUID()}`, plugins: ['./bare-plugin.ts'] }),
    );
    const [port, adminPort] = [await findFreePort(), await findFreePort()];
    gatewayUrl = `http://127.0.0.1:${port}`;
    // The command npm start runs, from a folder of its own, as a user runs it.
    const bin = path.resolve(import.meta.dirname, '../../bin/gatepass.mjs');
    const args = [
      'dev',
      '--config',
      'gatepass.config.json',
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--no-seed',
      '--dynamodb-endpoint',
      dynamoEndpoint(),
    ];
    child = spawn(process.execPath, [bin, ...args], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const health = await fetch(`http://127.0.0.1:${adminPort}/health`).catch(() => undefined);
      if (health?.status === 200) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`gatepass dev did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 90_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    rmSync(folder, { recursive: true, force: true });
  });

  it("loads the plugin and runs its hook: 403 with the plugin's reason", async () => {
    const res = await fetch(`${gatewayUrl}/blocked`);

    expect(res.status, output).toBe(403);
    expect(await res.json()).toEqual({ error: 'Blocked by a bare plugin', reason: 'blocked_here', message: EXPLICIT_DENY });
  });

  it('lets other requests on to the credential check', async () => {
    expect((await fetch(`${gatewayUrl}/pets`)).status).toBe(401);
  });
});
