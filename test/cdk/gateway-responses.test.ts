import { Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_RESPONSES } from '../../lambdas/core/model/gateway-responses.ts';
import { addGatepassGatewayResponses } from '../../lib/gateway-responses.ts';
import { CDK_TEST_TIMEOUT, removeTestOutdirs, testApp } from './test-app.ts';

describe('addGatepassGatewayResponses', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('gives a REST API of the app the four gatepass responses, with the local gateway bodies', () => {
    const stack = new Stack(testApp(), 'Test');
    const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
    api.root.addMethod('GET', new apigateway.MockIntegration());

    const responses = addGatepassGatewayResponses(api);

    expect(Object.keys(responses).sort()).toEqual(Object.keys(GATEWAY_RESPONSES).sort());
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ApiGateway::GatewayResponse', 4);
    for (const [type, response] of Object.entries(GATEWAY_RESPONSES)) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        RestApiId: { Ref: stack.getLogicalId(api.node.defaultChild as apigateway.CfnRestApi) },
        ResponseType: type,
        StatusCode: String(response.statusCode),
        ResponseTemplates: { 'application/json': response.template },
      });
    }
  });

  it("puts gatepass's denial fields in front of API Gateway's own message in the 403 body", () => {
    const stack = new Stack(testApp(), 'Test');
    const api = apigateway.RestApi.fromRestApiId(stack, 'Imported', 'a1b2c3d4e5');

    addGatepassGatewayResponses(api);

    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      RestApiId: 'a1b2c3d4e5',
      ResponseType: 'ACCESS_DENIED',
      StatusCode: '403',
      ResponseTemplates: { 'application/json': '{$context.authorizer.gatepassDenial"message":$context.error.messageString}' },
    });
  });

  it("maps Retry-After on the 403 from the authorizer context's retryAfter, next to the given headers", () => {
    const stack = new Stack(testApp(), 'Test');

    addGatepassGatewayResponses(apigateway.RestApi.fromRestApiId(stack, 'Imported', 'a1b2c3d4e5'), {
      headers: { 'Access-Control-Allow-Origin': "'https://app.example.com'" },
    });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'ACCESS_DENIED',
      ResponseParameters: {
        'gatewayresponse.header.Retry-After': 'context.authorizer.retryAfter',
        'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'",
      },
    });
    for (const type of ['UNAUTHORIZED', 'AUTHORIZER_FAILURE', 'AUTHORIZER_CONFIGURATION_ERROR']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Retry-After': Match.absent() }),
      });
    }
  });

  it('challenges with WWW-Authenticate: Bearer on the 401 by default, and with the configured scheme', () => {
    const stack = new Stack(testApp(), 'Test');

    addGatepassGatewayResponses(apigateway.RestApi.fromRestApiId(stack, 'Default', 'a1b2c3d4e5'));
    addGatepassGatewayResponses(apigateway.RestApi.fromRestApiId(stack, 'Custom', 'f6g7h8i9j0'), {
      wwwAuthenticate: 'ApiKey realm="orders"',
    });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      RestApiId: 'a1b2c3d4e5',
      ResponseType: 'UNAUTHORIZED',
      ResponseParameters: { 'gatewayresponse.header.WWW-Authenticate': "'Bearer'" },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      RestApiId: 'f6g7h8i9j0',
      ResponseType: 'UNAUTHORIZED',
      ResponseParameters: { 'gatewayresponse.header.WWW-Authenticate': `'ApiKey realm="orders"'` },
    });
  });

  it("keeps an imported API's CORS headers on every gatepass response when they are given", () => {
    const stack = new Stack(testApp(), 'Test');
    const api = apigateway.RestApi.fromRestApiId(stack, 'Imported', 'a1b2c3d4e5');

    addGatepassGatewayResponses(api, { headers: { 'Access-Control-Allow-Origin': "'https://app.example.com'" } });

    const responses = Template.fromStack(stack).findResources('AWS::ApiGateway::GatewayResponse');
    expect(Object.keys(responses)).toHaveLength(4);
    for (const response of Object.values(responses)) {
      expect(response.Properties.ResponseParameters).toMatchObject({
        'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'",
      });
    }
  });

  it("carries the CORS origin of an app API's preflight options onto its gatepass responses", () => {
    const stack = new Stack(testApp(), 'Test');
    const api = new apigateway.RestApi(stack, 'Api', {
      cloudWatchRole: false,
      defaultCorsPreflightOptions: { allowOrigins: ['https://app.example.com'], allowCredentials: true },
    });
    api.root.addMethod('GET', new apigateway.MockIntegration());

    addGatepassGatewayResponses(api);

    for (const type of ['ACCESS_DENIED', 'UNAUTHORIZED', 'AUTHORIZER_FAILURE']) {
      Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseParameters: Match.objectLike({
          'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'",
          'gatewayresponse.header.Access-Control-Allow-Credentials': "'true'",
        }),
      });
    }
  });

  it('leaves 401s to API Gateway when other authorizers share the API', () => {
    const stack = new Stack(testApp(), 'Test');

    const responses = addGatepassGatewayResponses(apigateway.RestApi.fromRestApiId(stack, 'Imported', 'a1b2c3d4e5'), {
      otherAuthorizers: true,
    });

    expect(Object.keys(responses).sort()).toEqual(['ACCESS_DENIED', 'AUTHORIZER_CONFIGURATION_ERROR', 'AUTHORIZER_FAILURE']);
    const types = Object.values(Template.fromStack(stack).findResources('AWS::ApiGateway::GatewayResponse')).map(
      (r) => r.Properties.ResponseType,
    );
    expect(types).not.toContain('UNAUTHORIZED');
  });

  it('refuses a header without a value', () => {
    const stack = new Stack(testApp(), 'Test');

    expect(() =>
      addGatepassGatewayResponses(apigateway.RestApi.fromRestApiId(stack, 'Imported', 'a1b2c3d4e5'), { headers: { Vary: ' ' } }),
    ).toThrow(/Vary/);
  });

  it('makes the next deployment of an app API depend on them', () => {
    const stack = new Stack(testApp(), 'Test');
    const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
    api.root.addMethod('GET', new apigateway.MockIntegration());

    const responses = addGatepassGatewayResponses(api);

    const template = Template.fromStack(stack);
    const [deployment] = Object.values(template.findResources('AWS::ApiGateway::Deployment'));
    expect(deployment?.DependsOn).toEqual(
      expect.arrayContaining([stack.getLogicalId(responses.ACCESS_DENIED!.node.defaultChild as apigateway.CfnGatewayResponse)]),
    );
  });
});
