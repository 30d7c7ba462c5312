import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_RESPONSES } from '../../lambdas/core/model/gateway-responses.ts';
import { PROJECT_ROOT } from '../../lib/bundling.ts';
import { GatepassStack, type GatepassStackProps } from '../../lib/gatepass-stack.ts';
import { CDK_TEST_TIMEOUT, gatepassConfigOf, logicalId, removeTestOutdirs, testApp } from './test-app.ts';

const RENEW_ON_EXPIRY = path.join(PROJECT_ROOT, 'examples/plugins/renew-on-expiry.ts');
const IP_DENY = path.join(PROJECT_ROOT, 'examples/plugins/ip-deny.ts');
const RESPONSE_TYPES = Object.keys(GATEWAY_RESPONSES);

function build(props: GatepassStackProps = {}) {
  const stack = new GatepassStack(testApp(), 'Gatepass', props);
  return { stack, template: Template.fromStack(stack) };
}

describe('GatepassStack', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  describe('with no restApiIds (the demo)', () => {
    it('deploys one retained session table, the authorizer, the admin API and the demo echo', () => {
      const { template } = build();

      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
      template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain' });
      template.resourceCountIs('AWS::Lambda::Function', 4); // and the usage aggregator
      template.resourceCountIs('AWS::Lambda::Url', 1);
      template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
    });

    it('guards ANY / and ANY /{proxy+} of the gatepass-demo API with the REQUEST authorizer', () => {
      const { template } = build();
      const [authorizerId] = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'));

      template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'gatepass-demo' });
      template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
      template.resourceCountIs('AWS::ApiGateway::Method', 2);
      for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
        expect(method.Properties).toMatchObject({
          HttpMethod: 'ANY',
          AuthorizationType: 'CUSTOM',
          AuthorizerId: { Ref: authorizerId },
          Integration: { Type: 'AWS_PROXY' },
        });
      }
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
    });

    it('echoes the authorizer context from an inline Node.js 22 function that may only write its logs', () => {
      const { stack, template } = build();

      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Code: { ZipFile: Match.stringLikeRegexp('requestContext\\.authorizer') },
      });
      expect(template.toJSON().Resources[logicalId(stack.demoApi!.echoRole)].Properties.ManagedPolicyArns).toBeUndefined();
    });

    it.each(Object.entries(GATEWAY_RESPONSES))('answers %s with its status code and JSON body', (type, response) => {
      const { template } = build();

      template.resourceCountIs('AWS::ApiGateway::GatewayResponse', RESPONSE_TYPES.length);
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: String(response.statusCode),
        ResponseTemplates: { 'application/json': response.template },
      });
    });

    it('creates no account-wide API Gateway CloudWatch role', () => {
      const { template } = build();

      template.resourceCountIs('AWS::ApiGateway::Account', 0);
    });

    it('outputs the table, the admin function name and URL, the authorizer ARN and the demo API URL', () => {
      const { stack, template } = build();

      template.hasOutput('TableName', { Value: { Ref: logicalId(stack.sessions!.table) } });
      template.hasOutput('AdminFunctionName', { Value: { Ref: logicalId(stack.admin.function) } });
      template.hasOutput('AdminFunctionArn', { Value: { 'Fn::GetAtt': [logicalId(stack.admin.function), 'Arn'] } });
      template.hasOutput('AdminUrl', { Value: { 'Fn::GetAtt': [logicalId(stack.admin.url), 'FunctionUrl'] } });
      template.hasOutput('AuthorizerFunctionArn', { Value: { 'Fn::GetAtt': [logicalId(stack.authorizer.function), 'Arn'] } });
      template.hasOutput('DemoApiUrl', { Value: Match.anyValue() });
    });
  });

  describe('with restApiIds', () => {
    it('attaches the authorizer to each API instead of deploying the demo', () => {
      const { stack, template } = build({ restApiIds: ['a1b2c3d4e5', 'f6g7h8i9j0'] });

      expect(stack.demoApi).toBeUndefined();
      template.resourceCountIs('AWS::ApiGateway::RestApi', 0);
      template.resourceCountIs('AWS::Lambda::Function', 3); // authorizer, admin, usage aggregator
      template.resourceCountIs('AWS::ApiGateway::Authorizer', 2);
      for (const restApiId of ['a1b2c3d4e5', 'f6g7h8i9j0']) {
        template.hasResourceProperties('AWS::ApiGateway::Authorizer', { RestApiId: restApiId, Type: 'REQUEST' });
      }
      expect(stack.attachments.map((a) => a.restApiId)).toEqual(['a1b2c3d4e5', 'f6g7h8i9j0']);
    });

    it('outputs the authorizer id of each API, and no demo URL', () => {
      const { stack, template } = build({ restApiIds: ['a1b2c3d4e5'] });

      template.hasOutput('AuthorizerIda1b2c3d4e5', { Value: { Ref: stack.getLogicalId(stack.attachments[0]!.authorizer) } });
      expect(Object.keys(template.findOutputs('DemoApiUrl'))).toEqual([]);
    });

    it("gives each API gatepass's gateway responses, unless told not to", () => {
      const withResponses = build({ restApiIds: ['a1b2c3d4e5', 'f6g7h8i9j0'] }).template;
      const without = build({ restApiIds: ['a1b2c3d4e5'], gatewayResponses: false }).template;

      withResponses.resourceCountIs('AWS::ApiGateway::GatewayResponse', 2 * RESPONSE_TYPES.length);
      withResponses.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { RestApiId: 'f6g7h8i9j0', ResponseType: 'ACCESS_DENIED' });
      without.resourceCountIs('AWS::ApiGateway::GatewayResponse', 0);
    });

    it("gives the attached APIs' gatepass responses the API's CORS headers, and leaves 401s alone when other authorizers share them", () => {
      const { template } = build({
        restApiIds: ['a1b2c3d4e5'],
        gatewayResponseOptions: { headers: { 'Access-Control-Allow-Origin': "'https://app.example.com'" }, otherAuthorizers: true },
      });

      template.resourceCountIs('AWS::ApiGateway::GatewayResponse', RESPONSE_TYPES.length - 1);
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'ACCESS_DENIED',
        ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'" },
      });
    });

    it('rejects something that is not a REST API id, and an API listed twice', () => {
      expect(() => build({ restApiIds: ['not an id'] })).toThrow(/not a REST API id/);
      expect(() => build({ restApiIds: ['a1b2c3d4e5', 'a1b2c3d4e5'] })).toThrow(/twice/);
    });
  });

  describe('options', () => {
    it('names the table from its props', () => {
      const { template } = build({ tableName: 'gatepass-sessions' });

      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { TableName: 'gatepass-sessions' });
    });

    it('bundles each plugin into a layer of the authorizer, in order, and names them in both configs', () => {
      const { stack, template } = build({ plugins: [{ entry: RENEW_ON_EXPIRY }, { entry: IP_DENY, name: 'deny-ips' }] });

      template.resourceCountIs('AWS::Lambda::LayerVersion', 2);
      expect(stack.plugins.map((p) => p.pluginName)).toEqual(['renew-on-expiry', 'deny-ips']);
      expect(template.toJSON().Resources[logicalId(stack.authorizer.function)].Properties.Layers).toEqual(
        stack.plugins.map((p) => ({ Ref: logicalId(p.layer) })),
      );
      for (const fn of [stack.authorizer.function, stack.admin.function]) {
        expect(gatepassConfigOf(template, logicalId(fn)).plugins).toEqual(['renew-on-expiry', 'deny-ips']);
      }
    });

    it('passes caching, tracing, reserved concurrency and the config to the authorizer', () => {
      const { stack, template } = build({
        resultsCacheTtl: Duration.seconds(60),
        tracing: true,
        reservedConcurrency: 20,
        config: { apiKeyHeader: 'X-Api-Key' },
      });

      expect(template.toJSON().Resources[logicalId(stack.authorizer.function)].Properties).toMatchObject({
        TracingConfig: { Mode: 'Active' },
        ReservedConcurrentExecutions: 20,
      });
      expect(gatepassConfigOf(template, logicalId(stack.authorizer.function))).toMatchObject({
        resultsCacheTtl: 60,
        apiKeyHeader: 'X-Api-Key',
      });
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 60 });
    });
  });
});
