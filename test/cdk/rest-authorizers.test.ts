import { Duration, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GatepassAuthorizer } from '../../lib/gatepass-authorizer.ts';
import type { GatepassAuthorizerProps } from '../../lib/gatepass-authorizer-props.ts';
import { SessionTable } from '../../lib/session-table.ts';
import { CDK_TEST_TIMEOUT, gatepassConfigOf, logicalId, removeTestOutdirs, testApp } from './test-app.ts';

function setUp(props: Omit<GatepassAuthorizerProps, 'table'> = {}) {
  const stack = new Stack(testApp(), 'Test');
  const sessions = new SessionTable(stack, 'Sessions');
  const authorizer = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table, ...props });
  return { stack, authorizer };
}

/** A stack with one REST API method guarded by `forRestApi`. */
function buildGuardedApi(props: Omit<GatepassAuthorizerProps, 'table'> = {}) {
  const { stack, authorizer } = setUp(props);
  const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
  api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: authorizer.forRestApi(api) });
  return { stack, authorizer, template: Template.fromStack(stack) };
}

const functionArn = (authorizer: GatepassAuthorizer) => ({ 'Fn::GetAtt': [logicalId(authorizer.function), 'Arn'] });

describe('GatepassAuthorizer on REST APIs', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  describe('forRestApi', () => {
    it('is a REQUEST authorizer with caching off and no identity sources by default', () => {
      const { template, authorizer } = buildGuardedApi();

      template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
        Type: 'REQUEST',
        AuthorizerResultTtlInSeconds: 0,
        IdentitySource: '',
      });
      const [resource] = Object.values(template.findResources('AWS::ApiGateway::Authorizer'));
      expect(JSON.stringify(resource?.Properties.AuthorizerUri)).toContain(logicalId(authorizer.function));
      template.hasResourceProperties('AWS::Lambda::Permission', {
        FunctionName: functionArn(authorizer),
        Principal: 'apigateway.amazonaws.com',
      });
    });

    it('uses the API key header as identity source and tells the Lambda when caching is on', () => {
      const { template, authorizer } = buildGuardedApi({ resultsCacheTtl: Duration.minutes(5), apiKeyHeader: 'X-Api-Key' });

      template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
        AuthorizerResultTtlInSeconds: 300,
        IdentitySource: 'method.request.header.X-Api-Key',
      });
      expect(gatepassConfigOf(template, logicalId(authorizer.function))).toMatchObject({ resultsCacheTtl: 300 });
    });

    it('takes explicit identity sources', () => {
      const { template } = buildGuardedApi({ identitySources: [apigateway.IdentitySource.queryString('key')] });

      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { IdentitySource: 'method.request.querystring.key' });
    });

    it('returns the same authorizer for the same API and a new one for another API', () => {
      const { stack, authorizer } = setUp();
      const [first, second] = ['First', 'Second'].map((id) => new apigateway.RestApi(stack, id, { cloudWatchRole: false }));
      for (const api of [first!, second!]) {
        api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: authorizer.forRestApi(api) });
      }

      expect(authorizer.forRestApi(first!)).toBe(authorizer.forRestApi(first!));
      expect(authorizer.forRestApi(second!)).not.toBe(authorizer.forRestApi(first!));
      Template.fromStack(stack).resourceCountIs('AWS::ApiGateway::Authorizer', 2);
    });

    it('guards a REST API imported by id', () => {
      const { stack, authorizer } = setUp();
      const api = apigateway.RestApi.fromRestApiAttributes(stack, 'Imported', { restApiId: 'abc123', rootResourceId: 'root0' });

      api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: authorizer.forRestApi(api) });

      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { RestApiId: 'abc123', Type: 'REQUEST' });
      template.hasResourceProperties('AWS::ApiGateway::Method', { RestApiId: 'abc123', AuthorizationType: 'CUSTOM' });
    });
  });

  describe('attachToRestApiId', () => {
    it('creates a REQUEST authorizer in the API that invokes the function, without caching or identity sources', () => {
      const { stack, authorizer } = setUp();

      const attachment = authorizer.attachToRestApiId('a1b2c3d4e5');

      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
      expect(template.toJSON().Resources[stack.getLogicalId(attachment.authorizer)].Properties).toEqual({
        RestApiId: 'a1b2c3d4e5',
        Name: expect.stringMatching(/RestApia1b2c3d4e5/),
        Type: 'REQUEST',
        AuthorizerUri: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':apigateway:',
              { Ref: 'AWS::Region' },
              ':lambda:path/2015-03-31/functions/',
              functionArn(authorizer),
              '/invocations',
            ],
          ],
        },
        AuthorizerResultTtlInSeconds: 0,
        IdentitySource: '',
      });
    });

    it('lets API Gateway invoke the function from that authorizer only', () => {
      const { stack, authorizer } = setUp();

      const attachment = authorizer.attachToRestApiId('a1b2c3d4e5');

      const template = Template.fromStack(stack);
      expect(template.toJSON().Resources[stack.getLogicalId(attachment.permission)].Properties).toEqual({
        Action: 'lambda:InvokeFunction',
        FunctionName: functionArn(authorizer),
        Principal: 'apigateway.amazonaws.com',
        SourceArn: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':execute-api:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':a1b2c3d4e5/authorizers/',
              { Ref: stack.getLogicalId(attachment.authorizer) },
            ],
          ],
        },
      });
    });

    it('exposes the authorizer id as a CUSTOM authorizer for the API', () => {
      const { stack, authorizer } = setUp();

      const attachment = authorizer.attachToRestApiId('a1b2c3d4e5');

      expect(attachment.restApiId).toBe('a1b2c3d4e5');
      expect(attachment.authorizationType).toBe(apigateway.AuthorizationType.CUSTOM);
      expect(stack.resolve(attachment.authorizerId)).toEqual({ Ref: stack.getLogicalId(attachment.authorizer) });
    });

    it('uses the same identity sources and cache TTL as forRestApi', () => {
      const { stack, authorizer } = setUp({ resultsCacheTtl: Duration.seconds(60), apiKeyHeader: 'X-Api-Key' });

      authorizer.attachToRestApiId('a1b2c3d4e5');

      Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::Authorizer', {
        AuthorizerResultTtlInSeconds: 60,
        IdentitySource: 'method.request.header.X-Api-Key',
      });
    });

    it('creates one authorizer per API, whatever the number of calls', () => {
      const { stack, authorizer } = setUp();

      const first = authorizer.attachToRestApiId('a1b2c3d4e5');
      const again = authorizer.attachToRestApiId('a1b2c3d4e5');
      authorizer.attachToRestApiId('f6g7h8i9j0');

      expect(again).toBe(first);
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::ApiGateway::Authorizer', 2);
      template.resourceCountIs('AWS::Lambda::Permission', 2);
    });

    it('takes the authorizer name', () => {
      const { stack, authorizer } = setUp();

      authorizer.attachToRestApiId('a1b2c3d4e5', { authorizerName: 'gatepass' });

      Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::Authorizer', { Name: 'gatepass' });
    });
  });
});
