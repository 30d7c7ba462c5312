import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { AdminHandler } from '../lambdas/admin/handler.ts';
import { lambdaContext } from './lambda-context.ts';

/** Lambda's synchronous payload limit: a Function URL refuses larger requests. */
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

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
export async function startAdminServer(options: { handler: AdminHandler; port?: number; host?: string }): Promise<RunningAdmin> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    void serve(options.handler, req, res);
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

async function serve(handler: AdminHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, { message: 'Request Entity Too Large' });
    const result = await handler(toEvent(req, body), lambdaContext('gatepass-admin'));
    res.writeHead(result.statusCode, (result.headers ?? {}) as Record<string, string>);
    res.end(result.body ?? '');
  } catch {
    send(res, 502, { message: 'Internal Server Error' });
  }
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
