import { App } from 'aws-cdk-lib';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGatepassApp, gatepassStackPropsFromContext } from '../../lib/gatepass-app.ts';
import { CDK_TEST_TIMEOUT, removeTestOutdirs, testApp } from './test-app.ts';

/** The stack props the app would build from this context. */
function propsFrom(context: Record<string, unknown>) {
  return gatepassStackPropsFromContext(new App({ context }).node);
}

describe('the CDK app', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  describe('context', () => {
    it('deploys the demo stack named Gatepass when given nothing', () => {
      const props = propsFrom({});

      expect(props).toMatchObject({ stackName: 'Gatepass', restApiIds: [], plugins: [], config: {} });
      expect(props.tableName).toBeUndefined();
      expect(props.resultsCacheTtl).toBeUndefined();
    });

    it('reads the values of cdk.json (JSON types)', () => {
      const props = propsFrom({
        stackName: 'GatepassProd',
        tableName: 'gatepass-prod',
        restApiIds: ['a1b2c3d4e5'],
        gatewayResponses: false,
        jwt: { jwksUrl: 'https://issuer.example/jwks.json', algorithms: ['RS256'] },
        apiKeyHeader: 'X-Api-Key',
        plugins: ['examples/plugins/renew-on-expiry.ts', { entry: 'examples/plugins/ip-deny.ts', name: 'deny-ips' }],
        resultsCacheTtl: 60,
        tracing: true,
        reservedConcurrency: 100,
      });

      expect(props).toMatchObject({
        stackName: 'GatepassProd',
        tableName: 'gatepass-prod',
        restApiIds: ['a1b2c3d4e5'],
        gatewayResponses: false,
        config: { jwt: { jwksUrl: 'https://issuer.example/jwks.json', algorithms: ['RS256'] }, apiKeyHeader: 'X-Api-Key' },
        plugins: [{ entry: 'examples/plugins/renew-on-expiry.ts' }, { entry: 'examples/plugins/ip-deny.ts', name: 'deny-ips' }],
        tracing: true,
        reservedConcurrency: 100,
      });
      expect(props.resultsCacheTtl?.toSeconds()).toBe(60);
    });

    it("reads the gateway responses' headers, 401 challenge and other authorizers, from JSON or `-c` strings", () => {
      const fromJson = propsFrom({
        gatewayResponseHeaders: { 'Access-Control-Allow-Origin': "'https://app.example.com'" },
        wwwAuthenticate: 'ApiKey',
        otherAuthorizers: true,
      });
      const fromStrings = propsFrom({ gatewayResponseHeaders: '{"Vary": "\'Origin\'"}', otherAuthorizers: 'false' });

      expect(fromJson.gatewayResponseOptions).toEqual({
        headers: { 'Access-Control-Allow-Origin': "'https://app.example.com'" },
        wwwAuthenticate: 'ApiKey',
        otherAuthorizers: true,
      });
      expect(fromStrings.gatewayResponseOptions).toEqual({ headers: { Vary: "'Origin'" }, otherAuthorizers: false });
      expect(() => propsFrom({ gatewayResponseHeaders: { Vary: 1 } })).toThrow(/gatewayResponseHeaders.Vary/);
    });

    it('reads the strings of `-c key=value` (comma lists, JSON, numbers, booleans)', () => {
      const props = propsFrom({
        restApiIds: 'a1b2c3d4e5, f6g7h8i9j0',
        jwt: '{"secret":"0123456789abcdef0123456789abcdef","algorithms":["HS256"]}',
        plugins: '["examples/plugins/renew-on-expiry.ts"]',
        resultsCacheTtl: '300',
        tracing: 'true',
        reservedConcurrency: '5',
        gatewayResponses: 'false',
      });

      expect(props).toMatchObject({
        restApiIds: ['a1b2c3d4e5', 'f6g7h8i9j0'],
        config: { jwt: { algorithms: ['HS256'] } },
        plugins: [{ entry: 'examples/plugins/renew-on-expiry.ts' }],
        tracing: true,
        reservedConcurrency: 5,
        gatewayResponses: false,
      });
      expect(props.resultsCacheTtl?.toSeconds()).toBe(300);
    });

    it.each([
      ['resultsCacheTtl', 'soon', /resultsCacheTtl.*whole number/],
      ['reservedConcurrency', -1, /reservedConcurrency.*whole number/],
      ['tracing', 'yes', /tracing.*true or false/],
      ['jwt', '{not json', /jwt.*valid JSON/],
      ['jwt', '["RS256"]', /jwt.*JSON object/],
      ['restApiIds', 42, /restApiIds.*list/],
      ['plugins', [{ name: 'x' }], /plugins/],
    ])('rejects %s = %j, naming the key', (key, value, message) => {
      expect(() => propsFrom({ [key]: value })).toThrow(message);
    });
  });

  describe('buildGatepassApp', () => {
    it('builds the Gatepass stack from the context', () => {
      const stack = buildGatepassApp(testApp({ restApiIds: ['a1b2c3d4e5'], tableName: 'gatepass-test' }));

      expect(stack.node.id).toBe('Gatepass');
      expect(stack.demoApi).toBeUndefined();
      expect(stack.attachments.map((a) => a.restApiId)).toEqual(['a1b2c3d4e5']);
    });

    it('fails the synth on an unacknowledged cdk-nag error', async () => {
      const app = testApp();
      const stack = buildGatepassApp(app);
      const { Bucket } = await import('aws-cdk-lib/aws-s3');
      new Bucket(stack, 'Unencrypted'); // AwsSolutions-S1 (no access logs) and S10 (no SSL-only policy)

      expect(() => app.synth()).toThrow(/AwsSolutions-S/);
    });
  });
});
