import { Duration, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GatepassAuthorizer, type GatepassAuthorizerProps } from '../../lib/gatepass-authorizer.ts';
import { SessionTable } from '../../lib/session-table.ts';
import { gatepassConfigOf, logicalId, removeTestOutdirs, roleStatements, testApp } from './test-app.ts';

/** A stack with a table, the authorizer and one REST API method guarded by it. */
function build(props: Omit<GatepassAuthorizerProps, 'table'> = {}) {
  const stack = new Stack(testApp(), 'Test');
  const sessions = new SessionTable(stack, 'Sessions');
  const authorizer = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table, ...props });
  const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
  api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: authorizer.forRestApi(api) });
  return { stack, sessions, authorizer, api, template: Template.fromStack(stack) };
}

describe('GatepassAuthorizer', () => {
  afterEach(removeTestOutdirs);

  describe('function', () => {
    it('runs Node.js 22 on ARM64 with 256 MB, a 3 s timeout and source maps', () => {
      const { template, authorizer } = build();

      expect(template.toJSON().Resources[logicalId(authorizer.function)].Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 3,
        Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
      });
    });

    it('passes GATEPASS_CONFIG as JSON with the table name and every default', () => {
      const { template, authorizer, sessions } = build();

      expect(gatepassConfigOf(template, logicalId(authorizer.function))).toEqual({
        tableName: `<Ref:${logicalId(sessions.table)}>`,
        apiKeyHeader: 'Authorization',
        plugins: [],
        hookTimeoutMs: 1000,
        policyCacheSeconds: 10,
        resultsCacheTtl: 0,
        httpApiResponse: 'simple',
        sessionRetentionSeconds: 2_592_000,
      });
    });

    it('passes its props through GATEPASS_CONFIG', () => {
      const { template, authorizer } = build({
        apiKeyHeader: 'X-Api-Key',
        plugins: ['renew-on-expiry'],
        policyCacheSeconds: 0,
        jwt: { jwksUrl: 'https://issuer.example/.well-known/jwks.json', algorithms: ['RS256'], defaultPolicies: ['free'] },
      });

      expect(gatepassConfigOf(template, logicalId(authorizer.function))).toMatchObject({
        apiKeyHeader: 'X-Api-Key',
        plugins: ['renew-on-expiry'],
        policyCacheSeconds: 0,
        jwt: {
          jwksUrl: 'https://issuer.example/.well-known/jwks.json',
          algorithms: ['RS256'],
          clockTolerance: 60,
          identityClaim: 'sub',
          policyClaim: 'pol',
          defaultPolicies: ['free'],
        },
      });
    });

    it('keeps its logs for one month in its own log group', () => {
      const { template, authorizer } = build();

      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
      expect(template.toJSON().Resources[logicalId(authorizer.function)].Properties.LoggingConfig).toEqual({
        LogGroup: { Ref: logicalId(authorizer.logGroup) },
      });
    });
  });

  describe('permissions', () => {
    it('may only GetItem, PutItem and UpdateItem on the table', () => {
      const { template, authorizer, sessions } = build();

      const statements = roleStatements(template, logicalId(authorizer.function.role!));

      expect(statements).toEqual([
        {
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [{ 'Fn::GetAtt': [logicalId(sessions.table), 'Arn'] }],
        },
      ]);
    });

    it('is granted nothing like Scan, Query, DeleteItem or a wildcard', () => {
      const { template, authorizer } = build();

      const actions = roleStatements(template, logicalId(authorizer.function.role!)).flatMap((s) => s.actions);

      for (const forbidden of ['dynamodb:Scan', 'dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
        expect(actions).not.toContain(forbidden);
      }
      expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    });
  });

  describe('REQUEST authorizer', () => {
    it('is a REQUEST authorizer with caching off and no identity sources by default', () => {
      const { template, authorizer } = build();

      template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
        Type: 'REQUEST',
        AuthorizerResultTtlInSeconds: 0,
        IdentitySource: '',
      });
      const [resource] = Object.values(template.findResources('AWS::ApiGateway::Authorizer'));
      expect(JSON.stringify(resource?.Properties.AuthorizerUri)).toContain(logicalId(authorizer.function));
      template.hasResourceProperties('AWS::Lambda::Permission', {
        FunctionName: { 'Fn::GetAtt': [logicalId(authorizer.function), 'Arn'] },
        Principal: 'apigateway.amazonaws.com',
      });
    });

    it('uses the API key header as identity source and tells the Lambda when caching is on', () => {
      const { template, authorizer, stack } = build({ resultsCacheTtl: Duration.minutes(5), apiKeyHeader: 'X-Api-Key' });

      template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
        AuthorizerResultTtlInSeconds: 300,
        IdentitySource: 'method.request.header.X-Api-Key',
      });
      expect(gatepassConfigOf(template, logicalId(authorizer.function))).toMatchObject({ resultsCacheTtl: 300 });
      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('result caching is on'));
    });

    it('takes explicit identity sources', () => {
      const { template } = build({ identitySources: [apigateway.IdentitySource.queryString('key')] });

      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { IdentitySource: 'method.request.querystring.key' });
    });

    it('returns the same authorizer for the same API and a new one for another API', () => {
      const stack = new Stack(testApp(), 'Test');
      const sessions = new SessionTable(stack, 'Sessions');
      const authorizer = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table });
      const [first, second] = ['First', 'Second'].map((id) => new apigateway.RestApi(stack, id, { cloudWatchRole: false }));
      for (const api of [first!, second!]) {
        api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: authorizer.forRestApi(api) });
      }

      expect(authorizer.forRestApi(first!)).toBe(authorizer.forRestApi(first!));
      expect(authorizer.forRestApi(second!)).not.toBe(authorizer.forRestApi(first!));
      Template.fromStack(stack).resourceCountIs('AWS::ApiGateway::Authorizer', 2);
    });

    it('guards a REST API imported by id', () => {
      const stack = new Stack(testApp(), 'Test');
      const sessions = new SessionTable(stack, 'Sessions');
      const authorizer = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table });
      const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', { restApiId: 'abc123', rootResourceId: 'root0' });

      api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: authorizer.forRestApi(api) });

      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { RestApiId: 'abc123', Type: 'REQUEST' });
      template.hasResourceProperties('AWS::ApiGateway::Method', { RestApiId: 'abc123', AuthorizationType: 'CUSTOM' });
    });
  });

  describe('validation', () => {
    it('rejects a hook timeout that the Lambda timeout would cut off', () => {
      expect(() => build({ hookTimeoutMs: 3000 })).toThrow(/hookTimeoutMs/);
    });

    it('rejects an invalid config at synth time, naming the field', () => {
      expect(() => build({ apiKeyHeader: 'X Api Key' })).toThrow(/apiKeyHeader/);
      expect(() =>
        build({ jwt: { jwksUrl: 'https://issuer.example/jwks.json', publicKeyPem: 'pem', algorithms: ['RS256'] } }),
      ).toThrow(/jwksUrl, publicKeyPem or secret/);
    });

    it('warns that a JWT secret ends up in clear text', () => {
      const { stack } = build({ jwt: { secret: 'x'.repeat(32), algorithms: ['HS256'] } });

      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('clear text'));
    });
  });
});
