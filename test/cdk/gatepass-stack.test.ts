import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_RESPONSES } from '../../lambdas/core/gateway-responses.ts';
import { GatepassStack } from '../../lib/gatepass-stack.ts';
import { logicalId, removeTestOutdirs, testApp } from './test-app.ts';

function build(props: ConstructorParameters<typeof GatepassStack>[2] = {}) {
  const stack = new GatepassStack(testApp(), 'Gatepass', props);
  return { stack, template: Template.fromStack(stack) };
}

describe('GatepassStack', () => {
  afterEach(removeTestOutdirs);

  it('deploys one retained session table, the authorizer, the admin API and the demo echo', () => {
    const { template } = build();

    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain' });
    template.resourceCountIs('AWS::Lambda::Function', 3);
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
  });

  it('names the table from its props', () => {
    const { template } = build({ tableName: 'gatepass-sessions' });

    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { TableName: 'gatepass-sessions' });
  });

  it('guards ANY / and ANY /{proxy+} of the gatepass-demo API with the REQUEST authorizer', () => {
    const { template } = build();
    const [authorizerId] = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'));

    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'gatepass-demo' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    template.resourceCountIs('AWS::ApiGateway::Method', 2);
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    for (const method of methods) {
      expect(method.Properties).toMatchObject({
        HttpMethod: 'ANY',
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: authorizerId },
        Integration: { Type: 'AWS_PROXY' },
      });
    }
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
  });

  it('echoes the authorizer context from an inline Node.js 22 function', () => {
    const { template } = build();

    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Code: { ZipFile: Match.stringLikeRegexp('requestContext\\.authorizer') },
    });
  });

  it.each(Object.entries(GATEWAY_RESPONSES))('answers %s with its status code and JSON body', (type, response) => {
    const { template } = build();

    template.resourceCountIs('AWS::ApiGateway::GatewayResponse', Object.keys(GATEWAY_RESPONSES).length);

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

  it('outputs the table name, the admin function name and URL, and the demo API URL', () => {
    const { stack, template } = build();

    template.hasOutput('TableName', { Value: { Ref: logicalId(stack.sessions.table) } });
    template.hasOutput('AdminFunctionName', { Value: { Ref: logicalId(stack.admin.function) } });
    template.hasOutput('AdminUrl', { Value: { 'Fn::GetAtt': [logicalId(stack.admin.url), 'FunctionUrl'] } });
    template.hasOutput('DemoApiUrl', { Value: Match.anyValue() });
  });
});
