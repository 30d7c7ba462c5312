import type {
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewayTokenAuthorizerEvent,
  Context,
} from 'aws-lambda';

/** The events API Gateway sends an authorizer, for `GET /pets/42` on API `api1`, stage `prod`. */
export const ARN_PREFIX = 'arn:aws:execute-api:us-east-1:123456789012';
export const METHOD_ARN = `${ARN_PREFIX}:api1/prod/GET/pets/42`;

/** A Lambda context with time to spare. */
export const LAMBDA_CONTEXT = {
  functionName: 'gatepass-authorizer',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  getRemainingTimeInMillis: () => 3000,
} as unknown as Context;

/** A REST API REQUEST event. */
export function restRequestEvent(headers: Record<string, string>, methodArn = METHOD_ARN): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn,
    resource: '/pets/{id}',
    path: '/pets/42',
    httpMethod: 'GET',
    headers,
    multiValueHeaders: null,
    pathParameters: { id: '42' },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { apiId: 'api1', stage: 'prod', identity: { sourceIp: '203.0.113.9' } },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

/** A REST API TOKEN event. */
export function restTokenEvent(token: string): APIGatewayTokenAuthorizerEvent {
  return { type: 'TOKEN', methodArn: METHOD_ARN, authorizationToken: token };
}

/** An HTTP API payload 2.0 event. */
export function httpApiEvent(headers: Record<string, string>): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: METHOD_ARN,
    identitySource: [],
    routeKey: 'GET /pets/{id}',
    rawPath: '/prod/pets/42',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api1',
      http: { method: 'GET', path: '/prod/pets/42', protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'curl/8' },
      requestId: 'r1',
      routeKey: 'GET /pets/{id}',
      stage: 'prod',
    },
  } as unknown as APIGatewayRequestAuthorizerEventV2;
}
