import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewayTokenAuthorizerEvent,
} from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { toAuthorizerResult, toAuthRequest, UnauthorizedError, type AuthorizerEvent } from '../../../lambdas/authorizer/events.ts';
import { MalformedArnError, parseMethodArn } from '../../../lambdas/authorizer/method-arn.ts';
import { ConfigSchema, type ConfigInput } from '../../../lambdas/core/model/config.ts';
import { deny, type Decision } from '../../../lambdas/core/request/decision.ts';
import { evaluatePolicy } from '../../../local/policy.ts';

const PREFIX = 'arn:aws:execute-api:us-east-1:123456789012';
const config = (input: ConfigInput = {}) => ConfigSchema.parse(input);

function restEvent(path: string, arnPath = path, method = 'GET'): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: `${PREFIX}:api1/prod/${method}${arnPath}`,
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers: { Authorization: 'gp_key' },
    requestContext: { apiId: 'api1', stage: 'prod', identity: { sourceIp: '203.0.113.9' } },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

function tokenEvent(arnPath: string): APIGatewayTokenAuthorizerEvent {
  return { type: 'TOKEN', methodArn: `${PREFIX}:api1/prod/GET${arnPath}`, authorizationToken: 'Bearer gp_key' };
}

function httpEvent(version: '1.0' | '2.0'): AuthorizerEvent {
  if (version === '1.0') return { ...restEvent('/pets'), version: '1.0' } as unknown as AuthorizerEvent;
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: `${PREFIX}:api1/prod/GET/pets`,
    rawPath: '/prod/pets',
    headers: {},
    requestContext: { apiId: 'api1', stage: 'prod', http: { method: 'GET', path: '/prod/pets', sourceIp: '203.0.113.9' } },
  } as unknown as APIGatewayRequestAuthorizerEventV2;
}

const allow = (): Decision => ({ allow: true, principalId: 'k1', context: { keyId: 'k1' } });

const statement = (result: unknown) =>
  (result as APIGatewayAuthorizerResult).policyDocument.Statement[0] as { Effect: string; Resource: string };

describe('the method ARN', () => {
  it('is split on its first five colons only: a colon in the path stays in the path', () => {
    expect(parseMethodArn(`${PREFIX}:api1/prod/GET/users/me:/admin/keys`)).toEqual({
      prefix: PREFIX,
      apiId: 'api1',
      stage: 'prod',
      method: 'GET',
      path: '/users/me:/admin/keys',
    });
  });

  it('gives / for the root and keeps every later slash', () => {
    expect(parseMethodArn(`${PREFIX}:api1/prod/GET/`).path).toBe('/');
    expect(parseMethodArn(`${PREFIX}:api1/prod/DELETE/a//b/`).path).toBe('/a//b/');
  });

  it('is refused when it is not an execute-api ARN naming an API, a stage and a method', () => {
    expect(() => parseMethodArn('arn:aws:lambda:us-east-1:123456789012:function:x')).toThrow(MalformedArnError);
    expect(() => parseMethodArn(`${PREFIX}:api1/prod`)).toThrow(MalformedArnError);
    expect(() => parseMethodArn('')).toThrow(MalformedArnError);
  });
});

describe('toAuthRequest', () => {
  it('checks a TOKEN event against the whole path after stage/METHOD, colon included', () => {
    expect(toAuthRequest(tokenEvent('/users/me:/admin/keys'), config()).path).toBe('/users/me:/admin/keys');
  });

  it("matches a REST request's rights against the API's own path, not a custom domain's base path", () => {
    // https://api.example.com/v1/pets, base path mapping v1 → the API: event.path is /v1/pets.
    const request = toAuthRequest(restEvent('/v1/pets', '/pets'), config());

    expect(request.path).toBe('/pets');
    expect(request).toMatchObject({ apiId: 'api1', stage: 'prod', method: 'GET' });
  });

  it('matches an HTTP API (payload 2.0) request against rawPath without the stage', () => {
    expect(toAuthRequest(httpEvent('2.0'), config()).path).toBe('/pets');
  });
});

describe('toAuthorizerResult', () => {
  it('names the API and stage, never the route, so a long {proxy+} path stays within the 512 characters of a Resource', () => {
    const longPath = `/files/${'segment/'.repeat(120)}end`;
    const event = restEvent(longPath);
    expect(event.methodArn.length).toBeGreaterThan(512);

    const result = toAuthorizerResult(allow(), event, config());

    expect(statement(result)).toMatchObject({ Effect: 'Allow', Resource: `${PREFIX}:api1/prod/*` });
    expect(statement(result).Resource.length).toBeLessThanOrEqual(512);
    // API Gateway, as the local gateway evaluates it: the policy covers the request.
    expect(evaluatePolicy(JSON.parse(JSON.stringify(result)), event.methodArn)).toMatchObject({ effect: 'Allow' });
  });

  it("puts a denial's error and reason into the context for the ACCESS_DENIED body", () => {
    const result = toAuthorizerResult(deny('quota_exceeded', { quotaRenews: 5 }, 'k1'), restEvent('/pets'), config());

    expect(statement(result).Effect).toBe('Deny');
    expect((result as APIGatewayAuthorizerResult).context).toEqual({
      quotaRenews: 5,
      reason: 'quota_exceeded',
      message: 'Quota exceeded',
      gatepassDenial: '"error":"Quota exceeded","reason":"quota_exceeded",',
    });
  });

  it("puts a denial's retryAfter into the ACCESS_DENIED body fields, and keeps it in the context for Retry-After", () => {
    const result = toAuthorizerResult(deny('rate_limited', { retryAfter: 7 }, 'k1'), restEvent('/pets'), config());

    expect((result as APIGatewayAuthorizerResult).context).toMatchObject({
      retryAfter: 7,
      gatepassDenial: '"error":"Rate Limit Exceeded","reason":"rate_limited","retryAfter":7,',
    });
  });

  describe('a missing credential', () => {
    it('throws exactly Unauthorized for a REST API (401)', () => {
      expect(() => toAuthorizerResult(deny('missing_credential'), restEvent('/pets'), config())).toThrow(UnauthorizedError);
      expect(() => toAuthorizerResult(deny('missing_credential'), tokenEvent('/pets'), config())).toThrow('Unauthorized');
    });

    it('is isAuthorized: false for an HTTP API with simple responses (403, as AWS documents)', () => {
      const result = toAuthorizerResult(deny('missing_credential'), httpEvent('2.0'), config({ httpApiResponse: 'simple' }));

      expect(result).toMatchObject({ isAuthorized: false, context: { reason: 'missing_credential' } });
    });

    it('is a Deny policy for an HTTP API with IAM responses, payload 2.0 or 1.0 (403)', () => {
      for (const version of ['2.0', '1.0'] as const) {
        const result = toAuthorizerResult(deny('missing_credential'), httpEvent(version), config({ httpApiResponse: 'iam' }));

        expect(statement(result).Effect).toBe('Deny');
      }
    });
  });

  describe('with authorizer result caching on', () => {
    const cached = config({ resultsCacheTtl: 300 });

    it('answers an Allow for every route of the API and stage with the whole stage', () => {
      const result = toAuthorizerResult(allow(), restEvent('/pets'), cached);

      expect(statement(result)).toMatchObject({ Effect: 'Allow', Resource: `${PREFIX}:api1/prod/*` });
    });
  });
});
