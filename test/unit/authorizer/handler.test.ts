import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  APIGatewayTokenAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuthorizerHandler, type AuthorizerOptions } from '../../../lambdas/authorizer/handler.ts';
import type { AuthorizerEvent, AuthorizerResult } from '../../../lambdas/authorizer/events.ts';
import { ConfigSchema, type ConfigInput } from '../../../lambdas/core/model/config.ts';
import type { DecisionContext } from '../../../lambdas/core/request/decision.ts';
import { keyIdOf } from '../../../lambdas/core/model/keys.ts';
import type { StoredSession } from '../../../lambdas/core/store/item.ts';
import { conditionFailed } from '../../support/dynamo-doubles.ts';

const NOW = 1_700_000_000;
const NOW_MS = NOW * 1000;
const KEY = 'gp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh2';
const KEY_ID = keyIdOf(KEY);
const ARN_PREFIX = 'arn:aws:execute-api:us-east-1:123456789012';
const METHOD_ARN = `${ARN_PREFIX}:api1/prod/GET/pets/42`;

const LAMBDA_CONTEXT: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'gatepass-authorizer',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:gatepass-authorizer',
  memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/gatepass-authorizer',
  logStreamName: '2023/11/14/[$LATEST]abcdef',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/**
 * A session that only allows GET /pets/<n> on API api1, stage prod: an Allow proves the
 * handler found the API id, stage, method and path (without the stage) in the event.
 */
function storedSession(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    pk: `key#${KEY_ID}`,
    keyId: KEY_ID,
    alias: 'ci',
    expires: 0,
    quotaMax: -1,
    quotaRemaining: -1,
    quotaRenewalRate: 0,
    quotaRenews: 0,
    rate: 0,
    per: 0,
    accessRights: { api1: { versions: ['prod'], allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] } },
    applyPolicies: [],
    metaData: { plan: 'gold' },
    tags: [],
    isInactive: false,
    createdAt: NOW - 100,
    updatedAt: NOW - 100,
    version: 1,
    ...overrides,
  };
}

/** The item an armed session's fast UpdateItem returns: limits recorded, one request taken from both counters. */
function armedAfterFastWrite(session: StoredSession): StoredSession {
  const { rate, per, quotaMax, quotaRenewalRate } = session;
  return {
    ...session,
    armedUntil: NOW + 3600,
    armedLimits: { rate, per, quotaMax, quotaRenewalRate },
    rateRemaining: (session.rateRemaining ?? 0) - 1,
    quotaRemaining: session.quotaRemaining - 1,
  };
}

function restRequestEvent(headers: Record<string, string> = { Authorization: KEY }): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    resource: '/pets/{id}',
    path: '/pets/42',
    httpMethod: 'GET',
    headers,
    multiValueHeaders: null,
    pathParameters: { id: '42' },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      apiId: 'api1',
      stage: 'prod',
      identity: { sourceIp: '203.0.113.9' },
    },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

function restTokenEvent(token: string = `Bearer ${KEY}`): APIGatewayTokenAuthorizerEvent {
  return { type: 'TOKEN', methodArn: METHOD_ARN, authorizationToken: token };
}

function httpApiEvent(headers: Record<string, string> = { authorization: KEY }): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: METHOD_ARN,
    identitySource: [KEY],
    routeKey: 'GET /pets/{id}',
    rawPath: '/prod/pets/42',
    rawQueryString: '',
    cookies: [],
    headers,
    queryStringParameters: {},
    requestContext: {
      accountId: '123456789012',
      apiId: 'api1',
      domainName: 'api1.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'api1',
      http: { method: 'GET', path: '/prod/pets/42', protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'curl/8' },
      requestId: 'r1',
      routeKey: 'GET /pets/{id}',
      stage: 'prod',
      time: '14/Nov/2023:22:13:20 +0000',
      timeEpoch: NOW_MS,
    },
    pathParameters: { id: '42' },
    stageVariables: {},
  } as unknown as APIGatewayRequestAuthorizerEventV2;
}

function policyOf(result: AuthorizerResult): APIGatewayAuthorizerResult {
  expect(result).toHaveProperty('policyDocument');
  return result as APIGatewayAuthorizerResult;
}

function statementOf(result: AuthorizerResult): { Effect: string; Resource: unknown; Action: unknown } {
  const statements = policyOf(result).policyDocument.Statement;
  expect(statements).toHaveLength(1);
  return statements[0] as unknown as { Effect: string; Resource: unknown; Action: unknown };
}

const ddb = mockClient(DynamoDBDocumentClient);

describe('createAuthorizerHandler', () => {
  let client: DynamoDBDocumentClient;
  const logger = new Logger({ serviceName: 'gatepass-authorizer-test', logLevel: 'SILENT' });

  function handlerWith(config: ConfigInput | string | undefined = {}, extra: Partial<AuthorizerOptions> = {}) {
    const resolved = typeof config === 'object' ? ConfigSchema.parse(config) : config;
    return createAuthorizerHandler({ config: resolved, client, logger, clock: () => NOW_MS, ...extra });
  }

  beforeEach(() => {
    client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  });

  afterEach(() => {
    ddb.reset();
  });

  /** The steady state: the session is armed, so the fast UpdateItem succeeds and returns it. */
  function givenArmed(session: StoredSession): void {
    ddb.on(UpdateCommand).resolves({ Attributes: armedAfterFastWrite(session) });
  }

  /** The fast UpdateItem fails and returns the item as it is; the full checks run on it. */
  function givenUnarmed(session: StoredSession): void {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed(session)).resolves({ Attributes: armedAfterFastWrite(session) });
  }

  describe('REST API REQUEST authorizer', () => {
    it('allows with a policy on the method ARN, the key id as principal and the session in the context', async () => {
      givenArmed(storedSession());

      const result = await handlerWith()(restRequestEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result)).toEqual({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN });
      expect(policyOf(result).principalId).toBe(KEY_ID);
      expect(policyOf(result).context).toMatchObject({ keyId: KEY_ID, alias: 'ci', meta_plan: 'gold' });
    });

    it('reads the key from a configured header whatever the case of its name', async () => {
      givenArmed(storedSession());

      const result = await handlerWith({ apiKeyHeader: 'X-API-Key' })(restRequestEvent({ 'x-api-KEY': KEY }), LAMBDA_CONTEXT);

      expect(statementOf(result).Effect).toBe('Allow');
    });

    it('denies with reason and message in the context for a denial', async () => {
      givenUnarmed(storedSession({ isInactive: true }));

      const result = await handlerWith()(restRequestEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result)).toMatchObject({ Effect: 'Deny', Resource: METHOD_ARN });
      expect(policyOf(result).context).toMatchObject({ reason: 'key_inactive', message: 'Key is inactive, please renew' });
    });

    it('denies url_not_allowed for a path the session does not allow', async () => {
      givenArmed(storedSession());
      const event = { ...restRequestEvent(), path: '/owners', methodArn: `${ARN_PREFIX}:api1/prod/GET/owners` };

      const result = await handlerWith()(event, LAMBDA_CONTEXT);

      expect(statementOf(result).Effect).toBe('Deny');
      expect(policyOf(result).context).toMatchObject({ reason: 'url_not_allowed' });
      // The fast UpdateItem took a request before access rights were checked: one refund gives it back.
      expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression)).toEqual([
        'SET #rr = #rr - :one, #qr = #qr - :one',
        'SET #rr = #rr + :one, #qr = #qr + :one',
      ]);
    });

    it('denies key_not_found with a Deny policy when no session exists for the key', async () => {
      ddb.on(UpdateCommand).rejects(conditionFailed(undefined));

      const result = await handlerWith()(restRequestEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result)).toMatchObject({ Effect: 'Deny', Resource: METHOD_ARN });
      expect(policyOf(result).context).toMatchObject({ reason: 'key_not_found', message: 'Access to this API has been disallowed' });
    });

    it('scopes the policy to the whole API and stage when results are cached', async () => {
      givenArmed(storedSession());

      const result = await handlerWith({ resultsCacheTtl: 300 })(restRequestEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result)).toMatchObject({ Effect: 'Allow', Resource: `${ARN_PREFIX}:api1/prod/*` });
    });
  });

  describe('REST API TOKEN authorizer', () => {
    it('allows a Bearer token, finding API, stage, method and path in the method ARN', async () => {
      givenArmed(storedSession());

      const result = await handlerWith()(restTokenEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result)).toEqual({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN });
      expect(policyOf(result).principalId).toBe(KEY_ID);
    });

    it('uses the token whatever header name is configured', async () => {
      givenArmed(storedSession());

      const result = await handlerWith({ apiKeyHeader: 'X-API-Key' })(restTokenEvent(KEY), LAMBDA_CONTEXT);

      expect(statementOf(result).Effect).toBe('Allow');
    });

    it('scopes the policy to the whole API and stage when results are cached', async () => {
      givenArmed(storedSession());

      const result = await handlerWith({ resultsCacheTtl: 60 })(restTokenEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result).Resource).toBe(`${ARN_PREFIX}:api1/prod/*`);
    });
  });

  describe('HTTP API payload 2.0', () => {
    it('answers isAuthorized true with the context for a simple response (stage stripped from the path)', async () => {
      givenArmed(storedSession());

      const result = await handlerWith({ httpApiResponse: 'simple' })(httpApiEvent(), LAMBDA_CONTEXT);

      const simple = result as APIGatewaySimpleAuthorizerWithContextResult<DecisionContext>;
      expect(simple.isAuthorized).toBe(true);
      expect(simple.context).toMatchObject({ keyId: KEY_ID, meta_plan: 'gold' });
      expect(result).not.toHaveProperty('policyDocument');
    });

    it('answers isAuthorized false with reason and message for a simple response', async () => {
      givenUnarmed(storedSession({ expires: NOW }));

      const result = await handlerWith({ httpApiResponse: 'simple' })(httpApiEvent(), LAMBDA_CONTEXT);

      expect(result).toMatchObject({
        isAuthorized: false,
        context: { reason: 'session_expired', message: 'Key has expired, please renew' },
      });
    });

    it('answers a policy on the route ARN for an IAM response', async () => {
      givenArmed(storedSession());

      const result = await handlerWith({ httpApiResponse: 'iam' })(httpApiEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result)).toEqual({ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN });
      expect(policyOf(result).principalId).toBe(KEY_ID);
    });

    it('scopes an IAM response to the whole API and stage when results are cached', async () => {
      givenArmed(storedSession());

      const result = await handlerWith({ httpApiResponse: 'iam', resultsCacheTtl: 300 })(httpApiEvent(), LAMBDA_CONTEXT);

      expect(statementOf(result).Resource).toBe(`${ARN_PREFIX}:api1/prod/*`);
    });
  });

  describe('missing credential', () => {
    const cases: [string, () => AuthorizerEvent][] = [
      ['REST REQUEST', () => restRequestEvent({})],
      ['REST TOKEN', () => restTokenEvent('')],
      ['HTTP API', () => httpApiEvent({})],
    ];

    it.each(cases)('rejects a %s event with exactly Error("Unauthorized") and reads nothing', async (_name, event) => {
      const error = await handlerWith()(event(), LAMBDA_CONTEXT).then(
        () => undefined,
        (reason: unknown) => reason,
      );

      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe('Unauthorized');
      expect(ddb.calls()).toHaveLength(0);
    });
  });

  describe('faults fail closed', () => {
    it('rejects with an error that is not Unauthorized when DynamoDB fails', async () => {
      ddb.on(UpdateCommand).rejects(new Error('socket hang up'));

      const error = await handlerWith()(restRequestEvent(), LAMBDA_CONTEXT).then(
        () => undefined,
        (reason: unknown) => reason,
      );

      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).not.toBe('Unauthorized');
    });

    it('rejects when the consumption write after a failed fast write fails', async () => {
      ddb
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed(storedSession({ quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 60, quotaRenews: NOW + 60 })))
        .rejects(new Error('RequestTimeout'));

      await expect(handlerWith()(restRequestEvent(), LAMBDA_CONTEXT)).rejects.toThrow();
    });

    it('rejects every invocation, of every event shape, when the config string is invalid', async () => {
      givenArmed(storedSession());
      const handler = handlerWith('{"hookTimeoutMs": 0, "apiKeyHeader": "bad header"}');

      for (const event of [restRequestEvent(), restTokenEvent(), httpApiEvent(), restRequestEvent()]) {
        const error = await handler(event, LAMBDA_CONTEXT).then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).not.toBe('Unauthorized');
      }
      expect(ddb.calls()).toHaveLength(0);
    });

    it('rejects every invocation when the config is missing or not JSON', async () => {
      givenArmed(storedSession());

      const unset = createAuthorizerHandler({ config: undefined, client, logger, clock: () => NOW_MS });

      await expect(unset(restRequestEvent(), LAMBDA_CONTEXT)).rejects.toThrow();
      await expect(handlerWith('not json')(restRequestEvent(), LAMBDA_CONTEXT)).rejects.toThrow();
      expect(ddb.calls()).toHaveLength(0);
    });
  });
});
