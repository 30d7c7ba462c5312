import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminRequest, AdminTransport } from '../../../bin/commands/transport.ts';
import { TransportError } from '../../../bin/commands/transport.ts';
import { startConsole, type RunningConsole } from '../../../local/console/server.ts';

/** Records what reaches the admin API and answers each call with a fixed body. */
class RecordingTransport implements AdminTransport {
  readonly target = 'http://admin.test';
  readonly sent: AdminRequest[] = [];
  fail = false;

  async send(req: AdminRequest) {
    if (this.fail) throw new TransportError('cannot reach the admin API at http://admin.test: ECONNREFUSED');
    this.sent.push(req);
    return req.method === 'DELETE' ? { status: 204, body: undefined } : { status: 200, body: { echoed: req.path } };
  }
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * A raw HTTP request (node:http, not fetch: fetch may not set Host, Origin or Sec-Fetch-Site
 * as an attacker's page or a rebound DNS name would).
 */
function send(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...options.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('the console server', () => {
  const token = 'test-token-0123456789abcdef';
  const transport = new RecordingTransport();
  let web: RunningConsole;
  let cookie: string;

  beforeAll(async () => {
    web = await startConsole({ transport, port: 0, token, apiId: 'local', stage: 'dev' });
    cookie = `gatepass_console_${web.port}=${token}`;
  });
  afterAll(async () => {
    await web?.close();
  });

  it('listens on 127.0.0.1 only and prints a URL with the token', () => {
    expect(web.url).toBe(`http://127.0.0.1:${web.port}/?token=${token}`);
  });

  it('exchanges the token for an HttpOnly, SameSite=Strict cookie and redirects to a URL without it', async () => {
    const res = await send(web.port, `/?token=${token}`, { headers: { 'sec-fetch-site': 'none' } });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
    expect(res.headers['set-cookie']).toEqual([`gatepass_console_${web.port}=${token}; Path=/; HttpOnly; SameSite=Strict`]);
  });

  it('refuses a wrong token and sets no cookie', async () => {
    const res = await send(web.port, '/?token=guessed');
    expect(res.status).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('serves nothing without the cookie: not the page, not the API', async () => {
    for (const path of ['/', '/console.js', '/console/info', '/api/keys']) {
      expect((await send(web.port, path)).status, path).toBe(401);
    }
    expect(transport.sent).toEqual([]);
  });

  it('serves the page with a strict Content-Security-Policy and no inline script', async () => {
    const res = await send(web.port, '/', { headers: { cookie } });
    expect(res.status).toBe(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.body).toContain('<script type="module" src="/console.js"></script>');
    expect(res.body).not.toMatch(/<script>|<style|style=|\son[a-z]+=/i);
  });

  it('refuses a Host other than 127.0.0.1 or localhost on its port (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${web.port}`, '127.0.0.1:1', `localhost.evil.example:${web.port}`]) {
      const res = await send(web.port, '/api/keys', { headers: { host, cookie } });
      expect(res.status, host).toBe(400);
    }
    expect((await send(web.port, '/console/info', { headers: { host: `localhost:${web.port}`, cookie } })).status).toBe(200);
    expect(transport.sent).toEqual([]);
  });

  it('refuses requests from another origin or site, even with the cookie', async () => {
    const refused: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of refused) {
      expect((await send(web.port, '/api/keys', { headers: { cookie, ...headers } })).status, JSON.stringify(headers)).toBe(403);
      const write = await send(web.port, '/api/keys', {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: '{}',
      });
      expect(write.status, JSON.stringify(headers)).toBe(403);
    }
    expect(transport.sent).toEqual([]);
  });

  it('refuses a write without an Origin header', async () => {
    const res = await send(web.port, '/api/keys', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(403);
    expect(transport.sent).toEqual([]);
  });

  it('forwards same-origin API calls with their preconditions, and only admin routes', async () => {
    const origin = `http://127.0.0.1:${web.port}`;
    const res = await send(web.port, '/api/policies/gold', {
      method: 'PUT',
      headers: { cookie, origin, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json', 'if-match': '3' },
      body: '{"rate":1,"per":1}',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ echoed: '/policies/gold' });
    expect(transport.sent.at(-1)).toMatchObject({
      method: 'PUT',
      path: '/policies/gold',
      headers: { 'if-match': '3' },
      body: { rate: 1, per: 1 },
    });

    const list = await send(web.port, '/api/keys?alias=demo&limit=5', { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(transport.sent.at(-1)).toMatchObject({ method: 'GET', path: '/keys', query: { alias: 'demo', limit: '5' } });

    const other = await send(web.port, '/api/somewhere-else', { headers: { cookie } });
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body).error.code).toBe('console_not_forwarded');
  });

  it('answers an unreachable admin API with a 502 in the admin error shape', async () => {
    transport.fail = true;
    try {
      const res = await send(web.port, '/api/keys', { headers: { cookie } });
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body).error).toMatchObject({ code: 'console_admin_unreachable' });
    } finally {
      transport.fail = false;
    }
  });

  it('serves the bundled script, under 300 KB, as JavaScript', async () => {
    const res = await send(web.port, '/console.js', { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/javascript/);
    expect(Buffer.byteLength(res.body)).toBeLessThan(300 * 1024);
  });

  it('tells the page where it is connected and the explain defaults', async () => {
    const res = await send(web.port, '/console/info', { headers: { cookie } });
    expect(JSON.parse(res.body)).toEqual({ target: 'http://admin.test', apiId: 'local', stage: 'dev' });
  });
});
