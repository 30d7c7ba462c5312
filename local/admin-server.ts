import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { AdminHandler } from '../lambdas/admin/handler.ts';
import type { AdminRequestEntry } from './access-log.ts';
import { lambdaContext } from './lambda-context.ts';

/** Lambda's synchronous payload limit: a Function URL refuses larger requests. */
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

export interface AdminServerOptions {
  readonly handler: AdminHandler;
  /** 0 picks a free port. @default 3001 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Receives one entry per answered request (the access log). @default none */
  readonly log?: (entry: AdminRequestEntry) => void;
}

export interface RunningAdmin {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the admin handler over HTTP the way a Lambda Function URL does: each request
 * becomes an HTTP API payload 2.0 event (header names lower-cased, repeated headers
 * joined with commas), and the handler's result becomes the response.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<RunningAdmin> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const started = Date.now();
    void serve(options.handler, req, res).then((code) =>
      options.log?.({
        method: req.method ?? 'GET',
        path: pathOf(req),
        status: res.statusCode,
        ms: Date.now() - started,
        ...(code ? { code } : {}),
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3001, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers one request; resolves with the error code of an error answer, for the access log. */
async function serve(handler: AdminHandler, req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
  try {
    const body = await readBody(req);
    if (body === undefined) {
      send(res, 413, { message: 'Request Entity Too Large' });
      return 'payload_too_large';
    }
    const result = await handler(toEvent(req, body), lambdaContext('gatepass-admin'));
    res.writeHead(result.statusCode, (result.headers ?? {}) as Record<string, string>);
    res.end(result.body ?? '');
    return result.statusCode >= 400 ? errorCode(result.body) : undefined;
  } catch {
    send(res, 502, { message: 'Internal Server Error' });
    return 'admin_handler_failed';
  }
}

/** The `error.code` of an admin API error body. */
function errorCode(body: string | undefined): string | undefined {
  try {
    const code = (JSON.parse(body ?? '') as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://localhost').pathname;
}

function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local-admin',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length ? { body: body.toString('utf8') } : {}),
    isBase64Encoded: false,
  };
}

/** The request body, or `undefined` when it is over the Lambda payload limit. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
