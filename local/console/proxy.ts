import type { AdminRequest, AdminTransport } from '../../bin/commands/transport.ts';
import { TransportError } from '../../bin/commands/transport.ts';

/** Largest body the console forwards: the admin API's own limit (64 KiB) and a margin. */
export const MAX_FORWARDED_BYTES = 96 * 1024;

const METHODS = new Set<AdminRequest['method']>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** The admin routes the console uses; anything else is not forwarded. */
const FORWARDED = /^\/(health|keys|policies)(\/[^/]+)*$/;
/** Request headers the admin API reads besides the body's type. */
const PRECONDITIONS = ['if-match', 'if-none-match'] as const;
const JSON_TYPES = ['application/json', 'application/vnd.tyk.policy+json'];

/** What the browser asked for, as read from the local request. */
export interface ProxiedRequest {
  readonly method: string;
  /** The admin path, `/api` removed, with its query. */
  readonly url: URL;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface ProxiedResponse {
  readonly status: number;
  /** JSON text, or '' for no body (204). */
  readonly body: string;
}

/**
 * Forwards one console call to the admin API through `transport` — the local admin port, or
 * the deployed Function URL with SigV4-signed requests — so that the browser never holds a
 * credential. Answers keep the admin API's status and `{"error": {code, message, details}}`
 * shape; a problem on this side is given in the same shape (`console_*` codes).
 */
export async function forward(transport: AdminTransport, request: ProxiedRequest): Promise<ProxiedResponse> {
  const method = request.method as AdminRequest['method'];
  if (!METHODS.has(method)) return problem(405, 'console_method_not_allowed', `${request.method} is not forwarded`);
  if (!FORWARDED.test(request.url.pathname)) {
    return problem(404, 'console_not_forwarded', `${request.url.pathname} is not an admin route the console uses`);
  }
  const headers: Record<string, string> = {};
  for (const name of PRECONDITIONS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of request.url.searchParams) query[name] = value;

  let body: unknown;
  let contentType: string | undefined;
  if (request.body.length > 0) {
    contentType = String(request.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (!JSON_TYPES.includes(contentType)) return problem(415, 'unsupported_media_type', `content-type must be ${JSON_TYPES.join(' or ')}`);
    try {
      body = JSON.parse(request.body.toString('utf8'));
    } catch {
      return problem(400, 'invalid_json', 'request body is not valid JSON');
    }
  }

  try {
    const answer = await transport.send({
      method,
      path: request.url.pathname,
      query,
      headers,
      ...(body === undefined ? {} : { body, contentType: contentType! }),
    });
    return { status: answer.status, body: answer.body === undefined ? '' : JSON.stringify(answer.body) };
  } catch (error) {
    if (error instanceof TransportError) return problem(502, 'console_admin_unreachable', error.message);
    throw error;
  }
}

function problem(status: number, code: string, message: string): ProxiedResponse {
  return { status, body: JSON.stringify({ error: { code, message } }) };
}
