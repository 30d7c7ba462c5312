import { Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Template } from 'aws-cdk-lib/assertions';
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

  it('puts the denial reason and message into the 403 body', () => {
    const stack = new Stack(testApp(), 'Test');
    const api = apigateway.RestApi.fromRestApiId(stack, 'Imported', 'a1b2c3d4e5');

    addGatepassGatewayResponses(api);

    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      RestApiId: 'a1b2c3d4e5',
      ResponseType: 'ACCESS_DENIED',
      StatusCode: '403',
      ResponseTemplates: { 'application/json': '{"error": "$context.authorizer.message", "reason": "$context.authorizer.reason"}' },
    });
  });

  it('makes the next deployment of an app API depend on them', () => {
    const stack = new Stack(testApp(), 'Test');
    const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
    api.root.addMethod('GET', new apigateway.MockIntegration());

    const responses = addGatepassGatewayResponses(api);

    const template = Template.fromStack(stack);
    const [deployment] = Object.values(template.findResources('AWS::ApiGateway::Deployment'));
    expect(deployment?.DependsOn).toEqual(
      expect.arrayContaining([stack.getLogicalId(responses.ACCESS_DENIED.node.defaultChild as apigateway.CfnGatewayResponse)]),
    );
  });
});
