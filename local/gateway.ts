import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { DEFAULT_WWW_AUTHENTICATE, GATEWAY_RESPONSES, gatewayResponseHeaders } from '../lambdas/core/model/gateway-responses.ts';
import { buildRequestAuthorizerEvent } from './authorizer-event.ts';
import { echoBody } from './echo.ts';
import { evaluatePolicy } from './policy.ts';
import { describe, sendJson } from './respond.ts';
import { AUTHORIZER_HEADER, proxy } from './upstream.ts';
export { AUTHORIZER_HEADER, asciiJson } from './upstream.ts';
import type { ContextValue, PolicyDecision } from './policy.ts';

/**
 * A local stand-in for API Gateway (REST API) in front of a Lambda REQUEST authorizer.
 *
 * The API is served at `/` with no stage prefix in the URL: `GET /pets` is the API's `/pets`
 * (event `path` `/pets`, `requestContext.path` `/<stage>/pets`, method ARN `…/<stage>/GET/pets`).
 * Every request goes through the authorizer (result caching off, as gatepass defaults to), then:
 * - the authorizer throws `Error('Unauthorized')` → 401 with the UNAUTHORIZED body;
 * - it throws anything else, exceeds the authorizer timeout, or answers something API Gateway
 *   cannot use → 500 with the AUTHORIZER_FAILURE body (API Gateway reports these as
 *   `AuthorizerConfigurationException`; the error is logged, never sent);
 * - the policy denies the method ARN (explicitly or by not allowing it) → 403, the
 *   ACCESS_DENIED template filled from the authorizer context and API Gateway's message;
 * - it allows → the built-in echo backend, or the `upstream` URL (HTTP proxy integration).
 * Header names reach the authorizer as the client spelled them (from `rawHeaders`).
 */
export interface GatewayOptions {
  readonly authorizer: (event: APIGatewayRequestAuthorizerEvent) => Promise<unknown>;
  readonly apiId: string;
  readonly stage: string;
  /** 0 picks a free port. @default 3000 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Base URL requests are proxied to. @default the built-in echo backend */
  readonly upstream?: string;
  /** Receives one structured entry per request and per failure. @default JSON lines on stderr */
  readonly log?: (entry: object) => void;
  /** API Gateway gives a Lambda authorizer 10 s. @default 10_000 */
  readonly authorizerTimeoutMs?: number;
  /** API Gateway's default integration timeout is 29 s. @default 29_000 */
  readonly integrationTimeoutMs?: number;
  /** API Gateway's payload limit is 10 MB. @default 10_485_760 */
  readonly maxBodyBytes?: number;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'local' */
  readonly region?: string;
  /** @default {} */
  readonly stageVariables?: Readonly<Record<string, string>>;
}

export interface RunningGateway {
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

type Settings = Required<Omit<GatewayOptions, 'upstream' | 'stageVariables'>> & Pick<GatewayOptions, 'upstream' | 'stageVariables'>;
type Headers = Record<string, string[]>;

/**
 * Starts the gateway and resolves once it listens.
 *
 * @example
 * const gw = await startGateway({ authorizer: handler, apiId: 'local', stage: 'dev', port: 0 });
 * await fetch(`${gw.url}/pets`, { headers: { authorization: key } });
 * await gw.close();
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const settings: Settings = {
    ...options,
    port: options.port ?? 3000,
    host: options.host ?? '127.0.0.1',
    log: options.log ?? ((entry) => process.stderr.write(`${JSON.stringify(entry)}\n`)),
    authorizerTimeoutMs: options.authorizerTimeoutMs ?? 10_000,
    integrationTimeoutMs: options.integrationTimeoutMs ?? 29_000,
    maxBodyBytes: options.maxBodyBytes ?? 10_485_760,
    accountId: options.accountId ?? '000000000000',
    region: options.region ?? 'local',
  };
  if (settings.upstream !== undefined) new URL(settings.upstream); // reject a bad URL early
  const server = createServer((req, res) => {
    handle(settings, req, res).catch((error: unknown) => {
      settings.log({ level: 'error', msg: 'gateway fault', error: describe(error) });
      if (!res.headersSent) sendJson(res, 500, '{"message": "Internal server error"}');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(s: Settings, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const requestId = randomUUID();
  const target = req.url ?? '/';
  // Origin-form ('/a//b') is glued to a dummy origin so '//' is never read as a host.
  const url = new URL(target.startsWith('/') ? `http://gateway.invalid${target}` : target);
  const method = (req.method ?? 'GET').toUpperCase();
  res.setHeader('x-amzn-RequestId', requestId);
  res.once('finish', () =>
    s.log({ level: 'info', msg: 'request', requestId, method, path: url.pathname, status: res.statusCode, ms: Date.now() - started }),
  );

  const body = await readBody(req, s.maxBodyBytes);
  if (body === undefined) {
    res.setHeader('connection', 'close');
    return sendJson(res, 413, `{"message": "HTTP content length exceeded ${s.maxBodyBytes} bytes"}`, 'RequestTooLargeException');
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const headers = forwardedHeaders(req, sourceIp);
  const event = buildRequestAuthorizerEvent({
    method,
    path: url.pathname,
    headers,
    query: url.searchParams,
    sourceIp,
    requestId,
    apiId: s.apiId,
    stage: s.stage,
    accountId: s.accountId,
    region: s.region,
    domainName: req.headers.host,
    protocol: `HTTP/${req.httpVersion}`,
    stageVariables: s.stageVariables,
  });

  const outcome = await invokeAuthorizer(s, event);
  if ('unauthorized' in outcome) {
    const { statusCode, template } = GATEWAY_RESPONSES.UNAUTHORIZED;
    res.setHeader('www-authenticate', DEFAULT_WWW_AUTHENTICATE);
    return sendJson(res, statusCode, template, 'UnauthorizedException');
  }
  const decision = 'failure' in outcome ? { malformed: outcome.failure } : evaluatePolicy(outcome.result, event.methodArn);
  if ('malformed' in decision) {
    s.log({ level: 'error', msg: 'authorizer failure', requestId, error: decision.malformed, detail: outcome.detail });
    const { statusCode, template } = GATEWAY_RESPONSES.AUTHORIZER_FAILURE;
    return sendJson(res, statusCode, template, 'AuthorizerConfigurationException');
  }
  if (decision.effect === 'Deny') {
    const { statusCode, template, headers: mapped } = GATEWAY_RESPONSES.ACCESS_DENIED;
    for (const [name, value] of Object.entries(gatewayResponseHeaders(mapped, decision.context))) res.setHeader(name, value);
    return sendJson(res, statusCode, renderTemplate(template, decision, accessDeniedMessage(decision)), 'AccessDeniedException');
  }
  const authorizer = authorizerContext(decision);
  if (s.upstream === undefined) {
    const forwarded = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== AUTHORIZER_HEADER));
    const echo = echoBody({ method, path: url.pathname, query: url.searchParams, headers: forwarded, body, authorizer });
    return sendJson(res, 200, JSON.stringify(echo));
  }
  return proxy(s, { method, url, headers, body, authorizer, requestId }, res);
}

type AuthorizerOutcome =
  | { readonly result: unknown; readonly detail?: undefined }
  | { readonly unauthorized: true; readonly detail?: undefined }
  | { readonly failure: string; readonly detail?: object };

/**
 * Calls the authorizer like Lambda would: the event and the result each pass through JSON
 * (so `undefined` keys vanish and a non-serialisable result is an error), with a timeout.
 */
async function invokeAuthorizer(s: Settings, event: APIGatewayRequestAuthorizerEvent): Promise<AuthorizerOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), s.authorizerTimeoutMs);
  });
  const payload = JSON.parse(JSON.stringify(event)) as APIGatewayRequestAuthorizerEvent;
  // Settles either way, so a late rejection after a timeout is never unhandled.
  const call = Promise.resolve()
    .then(() => s.authorizer(payload))
    .then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  const answer = await Promise.race([call, timeout]);
  clearTimeout(timer);
  if (answer === 'timeout') return { failure: `authorizer timed out after ${s.authorizerTimeoutMs} ms` };
  if ('error' in answer) {
    const { error } = answer;
    if (error instanceof Error && error.message === 'Unauthorized') return { unauthorized: true };
    return { failure: 'authorizer threw', detail: describe(error) };
  }
  try {
    const json = JSON.stringify(answer.value);
    return { result: json === undefined ? undefined : JSON.parse(json) };
  } catch (error) {
    return { failure: 'authorizer result is not JSON-serialisable', detail: describe(error) };
  }
}

/**
 * Fills a gateway response template as API Gateway does: simple substitution, no VTL and no
 * escaping ("x-amazon-apigateway-gateway-responses.responseTemplates", API Gateway developer
 * guide). `$context.authorizer.<key>` is the authorizer context's value as it is (a missing
 * key gives an empty string); `$context.error.message` is `errorMessage`, and
 * `$context.error.messageString` the same in double quotes.
 */
export function renderTemplate(template: string, decision: Pick<PolicyDecision, 'principalId' | 'context'>, errorMessage = ''): string {
  const values: Record<string, ContextValue> = { ...decision.context, principalId: decision.principalId };
  return template.replace(/\$context\.(authorizer|error)\.([A-Za-z0-9_]+)/g, (match, scope: string, key: string) => {
    if (scope === 'error') {
      if (key === 'messageString') return `"${errorMessage}"`;
      return key === 'message' ? errorMessage : match;
    }
    const value = Object.hasOwn(values, key) ? values[key] : null;
    return value === null || value === undefined ? '' : String(value);
  });
}

/**
 * API Gateway's `$context.error.message` for a denial by the authorizer's policy (its default
 * ACCESS_DENIED body; the messages AWS's "403 errors after creating a Lambda authorizer"
 * troubleshooting article shows).
 */
export function accessDeniedMessage(decision: Pick<PolicyDecision, 'explicit'>): string {
  return decision.explicit
    ? 'User is not authorized to access this resource with an explicit deny'
    : 'User is not authorized to access this resource';
}

/** `requestContext.authorizer` as a proxy integration sees it: values stringified. */
function authorizerContext(decision: PolicyDecision): Record<string, string | null> {
  const out: Record<string, string | null> = { principalId: decision.principalId };
  for (const [key, value] of Object.entries(decision.context)) out[key] = value === null ? null : String(value);
  return out;
}

/**
 * Client headers grouped by name (first spelling wins; values in order), plus the
 * `X-Forwarded-*` headers API Gateway adds. The authorizer sees every client header; a
 * client-sent x-gatepass-authorizer is only dropped on the way to the backend.
 */
function forwardedHeaders(req: IncomingMessage, sourceIp: string): Headers {
  const headers: Headers = {};
  const spelling = new Map<string, string>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (!spelling.has(lower)) spelling.set(lower, name);
    (headers[spelling.get(lower) as string] ??= []).push(req.rawHeaders[i + 1] as string);
  }
  const take = (lower: string): string[] => {
    const name = spelling.get(lower);
    const values = name === undefined ? [] : (headers[name] ?? []);
    if (name !== undefined) delete headers[name];
    return values;
  };
  headers['X-Forwarded-For'] = [[...take('x-forwarded-for'), sourceIp].join(', ')];
  take('x-forwarded-proto');
  take('x-forwarded-port');
  headers['X-Forwarded-Proto'] = ['http'];
  headers['X-Forwarded-Port'] = [String(req.socket.localPort ?? '')];
  return headers;
}

/** The request body, or `undefined` when it is larger than `max` bytes. */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > max) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // destroyOnReturn: false keeps the socket usable for the 413 answer.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
