import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { APIGatewayRequestAuthorizerEvent, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';

/**
 * Builds the events API Gateway (REST API) sends to a Lambda authorizer.
 *
 * Sources: "Input to an API Gateway Lambda authorizer" and "Lambda proxy integrations —
 * input format" in the API Gateway developer guide. The local gateway emulates an API made
 * of `ANY /` and `ANY /{proxy+}` (what CDK's `RestApi` + `root.addProxy()` creates), so a
 * request for `/pets/1` has resource `/{proxy+}` and pathParameters `{ proxy: 'pets/1' }`.
 */

/** What the gateway knows about one incoming request. */
export interface AuthorizerRequest {
  /** HTTP method as sent; upper-cased in the event. */
  readonly method: string;
  /**
   * Path as seen by the API (no stage prefix), starting with `/`, percent-encoding kept. The
   * local gateway gives the WHATWG URL's pathname (`..` and `%2e%2e` segments resolved, `\`
   * read as `/`); what stays ambiguous (`..%2F`, `..;`, `%25…`) is denied by the authorizer
   * to keys with URL rights.
   */
  readonly path: string;
  /**
   * Request headers. Repeated headers must be given as arrays (the local gateway builds
   * them from `rawHeaders`, so names keep the client's spelling); a string is one value.
   */
  readonly headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>;
  readonly query: URLSearchParams;
  readonly sourceIp: string;
  readonly apiId: string;
  readonly stage: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'local' */
  readonly region?: string;
  /** @default a random UUID */
  readonly requestId?: string;
  /** @default new Date() */
  readonly now?: Date;
  /** `Host` the client used. @default `<apiId>.execute-api.<region>.amazonaws.com` */
  readonly domainName?: string;
  /** @default 'HTTP/1.1' */
  readonly protocol?: string;
  /** Stage variables of the deployed stage. @default {} */
  readonly stageVariables?: Readonly<Record<string, string>>;
}

const DEFAULT_ACCOUNT_ID = '000000000000';
const DEFAULT_REGION = 'local';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Where a request goes, as an execute-api ARN names it. */
export interface MethodTarget {
  readonly method: string;
  readonly path: string;
  readonly apiId: string;
  readonly stage: string;
  readonly accountId?: string;
  readonly region?: string;
}

/**
 * The method ARN API Gateway puts in `methodArn`:
 * `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path without leading slash>`
 * (the root path gives a trailing `/`, as in the developer guide's `…/GET/` example).
 *
 * @example methodArn({ method: 'get', path: '/pets', apiId: 'abc', stage: 'dev' })
 * // 'arn:aws:execute-api:local:000000000000:abc/dev/GET/pets'
 */
export function methodArn(req: MethodTarget): string {
  const region = req.region ?? DEFAULT_REGION;
  const account = req.accountId ?? DEFAULT_ACCOUNT_ID;
  const path = req.path.replace(/^\//, '');
  return `arn:aws:execute-api:${region}:${account}:${req.apiId}/${req.stage}/${req.method.toUpperCase()}/${path}`;
}

/**
 * The REQUEST authorizer event for one request.
 *
 * - `headers` / `queryStringParameters` hold the last value of a repeated name, the
 *   `multiValue*` maps hold every value in order (the guide's example: `?multivalueName=you
 *   &multivalueName=me` gives `"me"` and `["you", "me"]`).
 * - Empty maps are `{}`, not `null`: the guide's authorizer example has `"pathParameters": {}`,
 *   and @types/aws-lambda notes that the real event has empty objects where the console's
 *   test tool shows `null`. Authorizers should accept both.
 * - `requestContext.path` carries the stage prefix (`/<stage><path>`), as on the default
 *   execute-api endpoint; `path` does not.
 *
 * @example
 * buildRequestAuthorizerEvent({ method: 'GET', path: '/pets', headers: { authorization: 'k' },
 *   query: new URLSearchParams('a=1'), sourceIp: '127.0.0.1', apiId: 'local', stage: 'dev' });
 */
export function buildRequestAuthorizerEvent(req: AuthorizerRequest): APIGatewayRequestAuthorizerEvent {
  const now = req.now ?? new Date();
  const region = req.region ?? DEFAULT_REGION;
  const accountId = req.accountId ?? DEFAULT_ACCOUNT_ID;
  const method = req.method.toUpperCase();
  const isRoot = req.path === '/' || req.path === '';
  const resource = isRoot ? '/' : '/{proxy+}';
  const multiValueHeaders = toMultiValue(req.headers);
  const headers = lastValues(multiValueHeaders);
  const multiValueQueryStringParameters = queryToMultiValue(req.query);
  const domainName = req.domainName ?? `${req.apiId}.execute-api.${region}.amazonaws.com`;
  const userAgent = findHeader(headers, 'user-agent');

  return {
    type: 'REQUEST',
    methodArn: methodArn({ ...req, accountId, region }),
    resource,
    path: req.path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: lastValues(multiValueQueryStringParameters),
    multiValueQueryStringParameters,
    pathParameters: isRoot ? {} : { proxy: req.path.replace(/^\//, '') },
    stageVariables: { ...req.stageVariables },
    requestContext: {
      accountId,
      apiId: req.apiId,
      authorizer: undefined,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      extendedRequestId: randomUUID().replaceAll('-', '').slice(0, 16),
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.sourceIp,
        user: null,
        userAgent: userAgent ?? null,
        userArn: null,
      },
      path: `/${req.stage}${req.path}`,
      protocol: req.protocol ?? 'HTTP/1.1',
      requestId: req.requestId ?? randomUUID(),
      requestTime: clfTime(now),
      requestTimeEpoch: now.getTime(),
      resourceId: 'local0',
      resourcePath: resource,
      stage: req.stage,
    },
  };
}

/**
 * The TOKEN authorizer event: only the token (the configured identity source header's
 * value) and the method ARN.
 */
export function buildTokenAuthorizerEvent(req: MethodTarget & { readonly token: string }): APIGatewayTokenAuthorizerEvent {
  return { type: 'TOKEN', authorizationToken: req.token, methodArn: methodArn(req) };
}

function toMultiValue(headers: AuthorizerRequest['headers']): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? [...value] : [value];
  }
  return out;
}

function queryToMultiValue(query: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of query) (out[name] ??= []).push(value);
  return out;
}

function lastValues(multi: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(multi)) {
    const last = values.at(-1);
    if (last !== undefined) out[name] = last;
  }
  return out;
}

function findHeader(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** `$context.requestTime`: CLF format, `dd/MMM/yyyy:HH:mm:ss +0000`, in UTC. */
function clfTime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}
