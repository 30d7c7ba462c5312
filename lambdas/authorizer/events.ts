import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  APIGatewayTokenAuthorizerEvent,
} from 'aws-lambda';
import type { Config } from '../core/model/config.ts';
import { DENIAL_CONTEXT_KEY, denialFields } from '../core/model/gateway-responses.ts';
import { normalizeHeaders } from '../core/request/credential.ts';
import type { Decision, DecisionContext } from '../core/request/decision.ts';
import type { AuthRequest } from '../core/request/pipeline.ts';
import { parseMethodArn, stageWildcard } from './method-arn.ts';

export { parseMethodArn } from './method-arn.ts';

/** The authorizer events gatepass answers. */
export type AuthorizerEvent = APIGatewayRequestAuthorizerEvent | APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEventV2;

export type AuthorizerResult = APIGatewayAuthorizerResult | APIGatewaySimpleAuthorizerWithContextResult<DecisionContext>;

/** Thrown to make API Gateway answer 401; the exact message is what API Gateway looks for. */
export class UnauthorizedError extends Error {
  constructor() {
    super('Unauthorized');
  }
}

/**
 * Turns any supported event into the pipeline's request.
 *
 * The path that URL rights are matched against is the API's own path: for REST APIs
 * (REQUEST and TOKEN events, and HTTP API payload 1.0) the part of the method ARN after
 * `stage/METHOD`, which does not change when the API is served on a custom domain with a
 * base path mapping (`event.path` then starts with the base path). HTTP API payload 2.0
 * events have no such ARN (their `routeArn` names the route template): their path is
 * `rawPath` without the stage. The path is passed on as given — dot segments and
 * percent-encodings kept — and `pathToMatch` (core/request/access-rights.ts) denies an
 * ambiguous one to a key with URL rights, whatever the event shape.
 */
export function toAuthRequest(event: AuthorizerEvent, config: Config): AuthRequest {
  if (isHttpApiV2(event)) {
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
    path: arn.path,
    headers: normalizeHeaders(rest.headers),
    query: normalizeQuery(rest.queryStringParameters),
    sourceIp: rest.requestContext?.identity?.sourceIp ?? '',
  };
}

/**
 * Turns a decision into the answer API Gateway expects.
 *
 * - A missing credential on a REST API throws `Unauthorized` (401, no context). An HTTP API
 *   is answered with a denial instead (403): its documented answers are a 401 from API
 *   Gateway itself when an identity source is missing, without calling the Lambda (the
 *   Authorizer `identitySource` in the API Gateway V2 API reference), and otherwise what the
 *   Lambda returns — `isAuthorized: false` or a Deny is 403 ("Working with AWS Lambda
 *   authorizers for HTTP APIs", API Gateway developer guide,
 *   https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html).
 *   Throwing `Unauthorized` is documented as a 401 for REST APIs only.
 * - Every other denial is a Deny with `reason` and `message` in the context, plus the body
 *   fields the ACCESS_DENIED gateway response inserts (403): `error`, `reason`, and
 *   `retryAfter` when the context has one (`rate_limited`, a renewing `quota_exceeded`).
 * - With result caching on, the pipeline refuses an Allow that would hold for this route
 *   only (`url_rights_not_cacheable`, before anything is counted): API Gateway would serve
 *   it from its cache for the caller's other routes.
 * - The policy names the API and stage (`api/stage/*`), never the method ARN: API Gateway
 *   limits a policy's Resource to 512 characters, which a long `{proxy+}` path exceeds. With
 *   caching off the policy is used for this one request, so it need not name the route;
 *   with caching on it must cover the caller's other routes.
 */
export function toAuthorizerResult(decision: Decision, event: AuthorizerEvent, config: Config): AuthorizerResult {
  const httpApi = isHttpApi(event);
  if (!decision.allow && decision.reason === 'missing_credential' && !httpApi) throw new UnauthorizedError();
  const final = decision;
  const principalId = final.principalId ?? 'anonymous';
  const context = final.allow
    ? final.context
    : { ...final.context, [DENIAL_CONTEXT_KEY]: denialFields(final.reason, final.message, retryAfterOf(final.context)) };

  if (isHttpApiV2(event)) {
    if (config.httpApiResponse === 'simple') return { isAuthorized: final.allow, context };
    return policyResult(principalId, final.allow, context, stageWildcard(event.routeArn));
  }
  const arn = (event as APIGatewayRequestAuthorizerEvent | APIGatewayTokenAuthorizerEvent).methodArn;
  return policyResult(principalId, final.allow, context, stageWildcard(arn));
}

function policyResult(principalId: string, allow: boolean, context: DecisionContext, resource: string): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: allow ? 'Allow' : 'Deny', Resource: resource }],
    },
    context,
  };
}

/** A denial's `retryAfter` (seconds), when its context has one. */
function retryAfterOf(context: DecisionContext): number | undefined {
  return typeof context.retryAfter === 'number' ? context.retryAfter : undefined;
}

/** HTTP API events carry a `version` (`2.0`, or `1.0` for IAM answers); REST API events do not. */
function isHttpApi(event: AuthorizerEvent): boolean {
  return typeof (event as { version?: unknown }).version === 'string';
}

function isHttpApiV2(event: AuthorizerEvent): event is APIGatewayRequestAuthorizerEventV2 {
  return (event as { version?: unknown }).version === '2.0';
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
