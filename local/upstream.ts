import { request as httpRequest } from 'node:http';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { describe, sendJson } from './respond.ts';

/** What the proxy needs of the gateway's settings. */
export interface UpstreamSettings {
  readonly upstream?: string;
  readonly apiId: string;
  readonly integrationTimeoutMs: number;
  readonly log: (entry: object) => void;
}

type Headers = Record<string, string[]>;

/** The header that carries the authorizer context to a real upstream (JSON, ASCII only). */
export const AUTHORIZER_HEADER = 'x-gatepass-authorizer';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  AUTHORIZER_HEADER,
]);

/**
 * HTTP proxy integration: method, path (appended to the upstream's base path) and query go
 * through, hop-by-hop headers do not; the authorizer context travels in `x-gatepass-authorizer`
 * (JSON, non-ASCII escaped) where a Lambda proxy integration would read requestContext.authorizer.
 * No answer within the integration timeout → 504 "Endpoint request timed out"; unreachable →
 * 504 "Network error communicating with endpoint" (what API Gateway answers for both).
 */
export function proxy(
  s: UpstreamSettings,
  r: { method: string; url: URL; headers: Headers; body: Buffer; authorizer: Record<string, string | null>; requestId: string },
  res: ServerResponse,
): Promise<void> {
  const base = new URL(s.upstream as string);
  const target = new URL(`${base.pathname.replace(/\/$/, '')}${r.url.pathname}${r.url.search}`, base);
  const headers: OutgoingHttpHeaders = { 'x-amzn-apigateway-api-id': s.apiId };
  for (const [name, values] of Object.entries(r.headers)) {
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers[name] = values;
  }
  headers[AUTHORIZER_HEADER] = asciiJson(r.authorizer);
  if (r.body.length > 0 || !['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(r.method)) {
    headers['content-length'] = String(r.body.length);
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<void>((resolve) => {
    let settled = false;
    const fail = (status: number, message: string, error?: unknown) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      s.log({
        level: 'error',
        msg: 'integration failure',
        requestId: r.requestId,
        upstream: target.origin,
        error: describe(error ?? message),
      });
      if (!res.headersSent) sendJson(res, status, JSON.stringify({ message }), 'InternalServerErrorException');
      else res.destroy();
      resolve();
    };
    const upstream = send(target, { method: r.method, headers }, (up) => {
      clearTimeout(timer);
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(up.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'x-amzn-requestid') out[name] = value;
      }
      if (up.headers['content-length'] !== undefined) out['content-length'] = up.headers['content-length'];
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
      up.once('end', () => {
        settled = true;
        resolve();
      });
      up.once('error', (error) => fail(502, 'Internal server error', error));
    });
    const timer = setTimeout(() => {
      upstream.destroy();
      fail(504, 'Endpoint request timed out');
    }, s.integrationTimeoutMs);
    upstream.once('error', (error) => fail(504, 'Network error communicating with endpoint', error));
    upstream.end(r.body);
  });
}

/** JSON with every non-ASCII character as `\uXXXX`, so it is a valid header value. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
