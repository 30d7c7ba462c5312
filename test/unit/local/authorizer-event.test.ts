import { describe, expect, it } from 'vitest';
import { buildRequestAuthorizerEvent, buildTokenAuthorizerEvent, methodArn } from '../../../local/authorizer-event.ts';

const base = {
  method: 'get',
  path: '/pets/42',
  headers: {},
  query: new URLSearchParams(),
  sourceIp: '203.0.113.7',
  apiId: 'abc123',
  stage: 'dev',
};

describe('methodArn', () => {
  it('builds the execute-api ARN with the local defaults', () => {
    expect(methodArn(base)).toBe('arn:aws:execute-api:local:000000000000:abc123/dev/GET/pets/42');
  });

  it('ends with a slash for the root path, like the developer guide example', () => {
    expect(methodArn({ ...base, path: '/', region: 'eu-west-1', accountId: '123456789012' })).toBe(
      'arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/GET/',
    );
  });
});

describe('buildRequestAuthorizerEvent', () => {
  it('fills the top-level fields of a REQUEST event on a {proxy+} resource', () => {
    const event = buildRequestAuthorizerEvent(base);

    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:local:000000000000:abc123/dev/GET/pets/42',
      resource: '/{proxy+}',
      path: '/pets/42',
      httpMethod: 'GET',
      pathParameters: { proxy: 'pets/42' },
      stageVariables: {},
    });
  });

  it('uses the root resource and empty path parameters for /', () => {
    const event = buildRequestAuthorizerEvent({ ...base, path: '/' });

    expect(event.resource).toBe('/');
    expect(event.pathParameters).toEqual({});
    expect(event.requestContext.resourcePath).toBe('/');
  });

  it('gives the last value of a repeated header in headers and all of them in multiValueHeaders', () => {
    const event = buildRequestAuthorizerEvent({
      ...base,
      headers: { 'X-Trace': ['one', 'two'], Authorization: 'Bearer k', Skipped: undefined },
    });

    expect(event.headers).toEqual({ 'X-Trace': 'two', Authorization: 'Bearer k' });
    expect(event.multiValueHeaders).toEqual({ 'X-Trace': ['one', 'two'], Authorization: ['Bearer k'] });
  });

  it('splits the query string the same way', () => {
    const event = buildRequestAuthorizerEvent({ ...base, query: new URLSearchParams('name=you&name=me&q=a+b') });

    expect(event.queryStringParameters).toEqual({ name: 'me', q: 'a b' });
    expect(event.multiValueQueryStringParameters).toEqual({ name: ['you', 'me'], q: ['a b'] });
  });

  it('gives empty objects, not null, when there are no headers or query parameters', () => {
    const event = buildRequestAuthorizerEvent(base);

    expect(event.headers).toEqual({});
    expect(event.multiValueHeaders).toEqual({});
    expect(event.queryStringParameters).toEqual({});
    expect(event.multiValueQueryStringParameters).toEqual({});
  });

  it('fills the request context, with the stage in its path', () => {
    const now = new Date(Date.UTC(2024, 1, 20, 22, 48, 57, 665));
    const event = buildRequestAuthorizerEvent({
      ...base,
      headers: { 'user-agent': 'curl/8.0' },
      requestId: 'req-1',
      now,
      domainName: '127.0.0.1:3000',
    });

    expect(event.requestContext).toMatchObject({
      accountId: '000000000000',
      apiId: 'abc123',
      stage: 'dev',
      httpMethod: 'GET',
      path: '/dev/pets/42',
      resourcePath: '/{proxy+}',
      requestId: 'req-1',
      requestTime: '20/Feb/2024:22:48:57 +0000',
      requestTimeEpoch: now.getTime(),
      protocol: 'HTTP/1.1',
      domainName: '127.0.0.1:3000',
      identity: { sourceIp: '203.0.113.7', userAgent: 'curl/8.0', apiKey: null, user: null },
    });
  });

  it('defaults the domain name to the execute-api host of the API', () => {
    const event = buildRequestAuthorizerEvent({ ...base, region: 'us-east-1' });

    expect(event.requestContext.domainName).toBe('abc123.execute-api.us-east-1.amazonaws.com');
    expect(event.requestContext.domainPrefix).toBe('abc123');
    expect(event.requestContext.identity.userAgent).toBeNull();
  });

  it('makes a fresh request id per event unless one is given', () => {
    const a = buildRequestAuthorizerEvent(base);
    const b = buildRequestAuthorizerEvent(base);

    expect(a.requestContext.requestId).not.toBe(b.requestContext.requestId);
  });
});

describe('buildTokenAuthorizerEvent', () => {
  it('carries only the type, the token and the method ARN', () => {
    const event = buildTokenAuthorizerEvent({ token: 'Bearer x', method: 'POST', path: '/orders', apiId: 'abc123', stage: 'prod' });

    expect(event).toEqual({
      type: 'TOKEN',
      authorizationToken: 'Bearer x',
      methodArn: 'arn:aws:execute-api:local:000000000000:abc123/prod/POST/orders',
    });
  });
});
