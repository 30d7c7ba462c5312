import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  APIGatewayTokenAuthorizerEvent,
} from 'aws-lambda';
import type { Config } from '../core/model/config.ts';
import { normalizeHeaders } from '../core/request/credential.ts';
import type { Decision, DecisionContext } from '../core/request/decision.ts';
import type { AuthRequest } from '../core/request/pipeline.ts';

/** The authorizer events gatepass answers. */
export type AuthorizerEvent =
  | APIGatewayRequestAuthorizerEvent
  | APIGatewayTokenAuthorizerEvent
  | APIGatewayRequestAuthorizerEventV2;

export type AuthorizerResult = APIGatewayAuthorizerResult | APIGatewaySimpleAuthorizerWithContextResult<DecisionContext>;

/** Thrown to make API Gateway answer 401; the exact message is what API Gateway looks for. */
export class UnauthorizedError extends Error {
  constructor() {
    super('Unauthorized');
  }
}

/** Parts of an execute-api ARN: `arn:aws:execute-api:region:account:apiId/stage/METHOD/path…`. */
interface ArnParts {
  readonly prefix: string;
  readonly apiId: string;
  readonly stage: string;
  readonly method: string;
  readonly path: string;
}

export function parseMethodArn(arn: string): ArnParts {
  const parts = arn.split(':');
  const [apiId = '', stage = '', method = '', ...rest] = (parts[5] ?? '').split('/');
  return { prefix: parts.slice(0, 5).join(':'), apiId, stage, method, path: '/' + rest.join('/') };
}

/** Turns any supported event into the pipeline's request. */
export function toAuthRequest(event: AuthorizerEvent, config: Config): AuthRequest {
  if ('version' in event && event.version === '2.0') {
    const { http, apiId, stage } = event.requestContext;
    return {
      apiId,
      stage,
      method: http.method,
      path: stripStage(event.rawPath ?? http.path, stage),
      headers: normalizeHeaders(event.headers),
      query: normalizeQuery(event.queryStringParameters),
      sourceIp: http.sourceIp,
    };
  }
  if (event.type === 'TOKEN') {
    const arn = parseMethodArn(event.methodArn);
    return {
      apiId: arn.apiId,
      stage: arn.stage,
      method: arn.method,
      path: arn.path,
      // The token source is one header; offer it where a JWT and where a key is looked for.
      headers: { authorization: event.authorizationToken, [config.apiKeyHeader.toLowerCase()]: event.authorizationToken },
      query: {},
      sourceIp: '',
    };
  }
  const rest = event as APIGatewayRequestAuthorizerEvent;
  const arn = parseMethodArn(rest.methodArn);
  return {
    apiId: rest.requestContext?.apiId ?? arn.apiId,
    stage: rest.requestContext?.stage ?? arn.stage,
    method: rest.httpMethod ?? arn.method,
    path: rest.path ?? arn.path,
    headers: normalizeHeaders(rest.headers),
    query: normalizeQuery(rest.queryStringParameters),
    sourceIp: rest.requestContext?.identity?.sourceIp ?? '',
  };
}

/**
 * Turns a decision into the answer API Gateway expects. A missing credential throws
 * `Unauthorized` (401, no context); every other denial is a Deny with `reason` and
 * `message` in the context (403 through the ACCESS_DENIED gateway response).
 */
export function toAuthorizerResult(decision: Decision, event: AuthorizerEvent, config: Config): AuthorizerResult {
  if (!decision.allow && decision.reason === 'missing_credential') throw new UnauthorizedError();
  const principalId = decision.principalId ?? 'anonymous';

  if ('version' in event && event.version === '2.0') {
    if (config.httpApiResponse === 'simple') {
      return { isAuthorized: decision.allow, context: decision.context };
    }
    return policyResult(principalId, decision, scopeArn(event.routeArn, config));
  }
  const arn = (event as APIGatewayRequestAuthorizerEvent | APIGatewayTokenAuthorizerEvent).methodArn;
  return policyResult(principalId, decision, scopeArn(arn, config));
}

function policyResult(principalId: string, decision: Decision, resource: string): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: decision.allow ? 'Allow' : 'Deny', Resource: resource }],
    },
    context: decision.context,
  };
}

/**
 * The policy's resource: the method ARN itself, or — when API Gateway caches results —
 * the whole API and stage, so that a cached answer is right for the caller's other routes.
 */
function scopeArn(arn: string, config: Config): string {
  if (config.resultsCacheTtl === 0) return arn;
  const { prefix, apiId, stage } = parseMethodArn(arn);
  return `${prefix}:${apiId}/${stage}/*`;
}

/** HTTP API paths carry the stage name unless it is `$default`. */
function stripStage(path: string, stage: string): string {
  if (stage !== '$default' && (path === `/${stage}` || path.startsWith(`/${stage}/`))) {
    return path.slice(stage.length + 1) || '/';
  }
  return path;
}

function normalizeQuery(query: Readonly<Record<string, string | undefined>> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(query ?? {})) if (typeof value === 'string') out[name] = value;
  return out;
}
