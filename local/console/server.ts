import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminTransport } from '../../bin/commands/transport.ts';
import { consoleAssets, type ConsoleAssets } from './assets.ts';
import { checkRequest, sameSecret, SECURITY_HEADERS, sessionCookie } from './guard.ts';
import { forward, MAX_FORWARDED_BYTES } from './proxy.ts';

/** What the page shows about where it is connected (`GET /console/info`). */
export interface ConsoleInfo {
  /** The admin API the calls go to, for the header. */
  readonly target: string;
  /** Defaults for the explain form (the local gateway's API id and stage). */
  readonly apiId?: string;
  readonly stage?: string;
}

export interface ConsoleOptions {
  /** How admin calls are made: the local admin port, or a signed Function URL. */
  readonly transport: AdminTransport;
  /** @default 3002; 0 = a free port */
  readonly port?: number;
  /** Explain defaults shown on the page. @default none */
  readonly apiId?: string;
  readonly stage?: string;
  /** The session token. @default 32 random bytes, base64url */
  readonly token?: string;
  /** @default the console's own files */
  readonly assets?: ConsoleAssets;
}

export interface RunningConsole {
  /** The URL to open: it carries the token, exchanged for a cookie on first load. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The web console's local server, bound to 127.0.0.1 only: the page, its script and
 * stylesheet, and `/api/*` forwarded to the admin API (see `proxy.ts`). Every request goes
 * through `guard.ts` first (Host, origin, session cookie).
 *
 * @example
 * const console = await startConsole({ transport: new HttpTransport(adminUrl) });
 * console.url; // http://127.0.0.1:3002/?token=…
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const token = options.token ?? randomBytes(32).toString('base64url');
  const assets = options.assets ?? consoleAssets();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3002, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const info: ConsoleInfo = {
    target: options.transport.target,
    ...(options.apiId === undefined ? {} : { apiId: options.apiId }),
    ...(options.stage === undefined ? {} : { stage: options.stage }),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res, { port, token, assets, info, transport: options.transport }).catch(() => {
      if (!res.headersSent) text(res, 500, 'text/plain; charset=utf-8', 'console error');
      else res.destroy();
    });
  });
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Context {
  readonly port: number;
  readonly token: string;
  readonly assets: ConsoleAssets;
  readonly info: ConsoleInfo;
  readonly transport: AdminTransport;
}

async function serve(req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  const method = req.method ?? 'GET';
  const verdict = checkRequest(method, req.headers, context);
  if (!verdict.ok) return text(res, verdict.status, 'text/plain; charset=utf-8', `${verdict.message}\n`);
  const url = new URL(req.url ?? '/', `http://127.0.0.1:${context.port}`);

  // The token exchange: the printed URL sets the cookie, then the token leaves the address bar.
  if (url.pathname === '/' && url.searchParams.has('token')) {
    if (!sameSecret(url.searchParams.get('token') ?? undefined, context.token)) {
      return text(res, 401, 'text/plain; charset=utf-8', 'this token is not the one gatepass printed\n');
    }
    res.writeHead(303, { ...SECURITY_HEADERS, 'set-cookie': sessionCookie(context.port, context.token), location: '/' });
    res.end();
    return;
  }
  if (!verdict.session) {
    return text(
      res,
      401,
      'text/plain; charset=utf-8',
      'Open the console with the URL gatepass printed (it ends in ?token=…): that link signs this browser in.\n',
    );
  }

  if (url.pathname.startsWith('/api/')) {
    const body = await readBody(req);
    if (body === undefined) return json(res, 413, { error: { code: 'payload_too_large', message: 'request body is too large' } });
    url.pathname = url.pathname.slice('/api'.length);
    const answer = await forward(context.transport, { method, url, headers: req.headers, body });
    res.writeHead(answer.status, { ...SECURITY_HEADERS, ...(answer.body === '' ? {} : { 'content-type': 'application/json' }) });
    res.end(answer.body);
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') return text(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  switch (url.pathname) {
    case '/':
      return text(res, 200, 'text/html; charset=utf-8', context.assets.html);
    case '/console.js':
      return text(res, 200, 'text/javascript; charset=utf-8', await context.assets.script());
    case '/console.css':
      return text(res, 200, 'text/css; charset=utf-8', context.assets.css);
    case '/favicon.svg':
      return text(res, 200, 'image/svg+xml', context.assets.icon);
    case '/console/info':
      return json(res, 200, context.info);
    default:
      return text(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
}

function text(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  text(res, status, 'application/json', JSON.stringify(body));
}

/** The request body, or `undefined` past {@link MAX_FORWARDED_BYTES}. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORWARDED_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
