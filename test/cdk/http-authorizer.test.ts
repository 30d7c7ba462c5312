import { Duration, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUrlIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GatepassAuthorizer } from '../../lib/gatepass-authorizer.ts';
import type { GatepassAuthorizerProps } from '../../lib/gatepass-authorizer-props.ts';
import { httpIdentitySource } from '../../lib/identity-sources.ts';
import { SessionTable } from '../../lib/session-table.ts';
import { CDK_TEST_TIMEOUT, gatepassConfigOf, logicalId, removeTestOutdirs, testApp } from './test-app.ts';

/** A stack with an HTTP API whose `/orders` route is guarded by `forHttpApi`. */
function build(props: Omit<GatepassAuthorizerProps, 'table'> = {}) {
  const stack = new Stack(testApp(), 'Test');
  const sessions = new SessionTable(stack, 'Sessions');
  const authorizer = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table, ...props });
  const api = new apigwv2.HttpApi(stack, 'HttpApi');
  api.addRoutes({
    path: '/orders',
    integration: new HttpUrlIntegration('Orders', 'https://backend.example/orders'),
    authorizer: authorizer.forHttpApi(api),
  });
  return { stack, authorizer, api, template: Template.fromStack(stack) };
}

describe('GatepassAuthorizer on HTTP APIs', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('answers with simple responses on payload 2.0, caching off and no identity sources, by default', () => {
    const { template, authorizer } = build();

    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: [],
    });
    expect(gatepassConfigOf(template, logicalId(authorizer.function))).toMatchObject({ httpApiResponse: 'simple' });
  });

  it('guards the route with it', () => {
    const { template } = build();
    const [authorizerId] = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer'));

    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'ANY /orders',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: authorizerId },
    });
  });

  it('lets API Gateway invoke the function from that authorizer', () => {
    const { template, authorizer } = build();

    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [logicalId(authorizer.function), 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
      SourceArn: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/authorizers/')])] }),
    });
  });

  it('answers with IAM policies when the config says iam, and the config says so too', () => {
    const { template, authorizer } = build({ httpApiResponse: 'iam' });

    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerPayloadFormatVersion: '1.0',
      EnableSimpleResponses: Match.absent(),
    });
    expect(gatepassConfigOf(template, logicalId(authorizer.function))).toMatchObject({ httpApiResponse: 'iam' });
  });

  it('caches with the API key header as identity source when caching is on', () => {
    const { template } = build({ resultsCacheTtl: Duration.seconds(30), apiKeyHeader: 'X-Api-Key' });

    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerResultTtlInSeconds: 30,
      IdentitySource: ['$request.header.X-Api-Key'],
    });
  });

  it('returns the same authorizer for the same API', () => {
    const { authorizer, api } = build();

    expect(authorizer.forHttpApi(api)).toBe(authorizer.forHttpApi(api));
  });

  it('translates REST identity sources to HTTP API selection expressions', () => {
    expect(httpIdentitySource('method.request.header.X-Api-Key')).toBe('$request.header.X-Api-Key');
    expect(httpIdentitySource('method.request.querystring.key')).toBe('$request.querystring.key');
    expect(httpIdentitySource('stageVariables.tenant')).toBe('$stageVariables.tenant');
    expect(httpIdentitySource('context.identity.sourceIp')).toBe('$context.identity.sourceIp');
    expect(() => httpIdentitySource('header.X')).toThrow(/no HTTP API equivalent/);
  });
});
