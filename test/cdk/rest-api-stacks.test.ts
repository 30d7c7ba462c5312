import { Duration, Stack, type App } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GatepassAuthorizer } from '../../lib/gatepass-authorizer.ts';
import type { GatepassAuthorizerProps } from '../../lib/gatepass-authorizer-props.ts';
import { SessionTable } from '../../lib/session-table.ts';
import { CDK_TEST_TIMEOUT, cdkJsonFeatureFlags, logicalId, removeTestOutdirs, testApp } from './test-app.ts';

/** gatepass in stack `Gatepass`, a REST API with one guarded method in stack `Orders`. */
function twoStacks(app: App = testApp()) {
  const gatepassStack = new Stack(app, 'Gatepass');
  const sessions = new SessionTable(gatepassStack, 'Sessions');
  const gatepass = new GatepassAuthorizer(gatepassStack, 'Authorizer', { table: sessions.table });
  const apiStack = new Stack(app, 'Orders');
  const api = new apigateway.RestApi(apiStack, 'Api', { cloudWatchRole: false });
  api.root.addMethod('GET', new apigateway.MockIntegration(), {
    authorizer: gatepass.forRestApi(api),
    authorizationType: apigateway.AuthorizationType.CUSTOM,
  });
  return { app, gatepassStack, gatepass, apiStack, api };
}

/** The logical id of the one `AWS::ApiGateway::Deployment` of an app whose authorizer has `props`. */
function deploymentIdWith(context: Record<string, unknown>, props: Omit<GatepassAuthorizerProps, 'table'>): string {
  const stack = new Stack(testApp(context), 'Test');
  const sessions = new SessionTable(stack, 'Sessions');
  const gatepass = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table, ...props });
  const api = new apigateway.RestApi(stack, 'Api', { cloudWatchRole: false });
  api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: gatepass.forRestApi(api) });
  const ids = Object.keys(Template.fromStack(stack).findResources('AWS::ApiGateway::Deployment'));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe('forRestApi with the REST API in another stack', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('synthesizes both stacks without a dependency cycle', () => {
    const { app } = twoStacks();

    expect(() => app.synth()).not.toThrow();
  });

  it("puts the authorizer and its invoke permission in the API's stack, pointing at the function's ARN", () => {
    const { gatepass, gatepassStack, apiStack } = twoStacks();

    const api = Template.fromStack(apiStack);
    api.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    api.resourceCountIs('AWS::Lambda::Permission', 1);
    api.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'apigateway.amazonaws.com' });
    const permission = Object.values(api.findResources('AWS::Lambda::Permission'))[0];
    expect(JSON.stringify(permission?.Properties.FunctionName)).toContain('Fn::ImportValue');
    expect(JSON.stringify(permission?.Properties.FunctionName)).toContain(logicalId(gatepass.function));
    const gatepassTemplate = Template.fromStack(gatepassStack);
    gatepassTemplate.resourceCountIs('AWS::ApiGateway::Authorizer', 0);
    gatepassTemplate.resourceCountIs('AWS::Lambda::Permission', 0);
  });

  it('makes the API stack depend on the gatepass stack, never the reverse', () => {
    const { app, gatepassStack, apiStack } = twoStacks();

    app.synth(); // cross-stack references become dependencies here
    expect(apiStack.dependencies).toContain(gatepassStack);
    expect(gatepassStack.dependencies).not.toContain(apiStack);
  });

  it("writes the authorizer URI from the API stack's Region, never an Fn::Split of a cross-stack reference", () => {
    for (const app of [testApp(), testApp(cdkJsonFeatureFlags())]) {
      const { gatepass, apiStack } = twoStacks(app);

      const authorizer = Object.values(Template.fromStack(apiStack).findResources('AWS::ApiGateway::Authorizer'))[0];
      const uri = JSON.stringify(authorizer?.Properties.AuthorizerUri);
      expect(uri).not.toContain('Fn::Split');
      expect(uri).toContain('{"Ref":"AWS::Region"}');
      expect(uri).toContain(logicalId(gatepass.function));
    }
  });

  it('guards the method with the authorizer of its own stack', () => {
    const { apiStack } = twoStacks();

    const template = Template.fromStack(apiStack);
    const [authorizerId] = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'));
    template.hasResourceProperties('AWS::ApiGateway::Method', { AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
  });
});

describe("the REST API's deployment when the authorizer changes", { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it("gets a new logical id (so the stage is deployed again) with the repository's cdk.json feature flags", () => {
    const flags = cdkJsonFeatureFlags();
    expect(flags['@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId']).toBe(true);

    const before = deploymentIdWith(flags, {});
    const after = deploymentIdWith(flags, { resultsCacheTtl: Duration.seconds(30) });

    expect(after).not.toBe(before);
  });

  it('gets a new logical id in an app without the feature flag, too', () => {
    const before = deploymentIdWith({}, {});
    const identitySources = deploymentIdWith({}, { identitySources: [apigateway.IdentitySource.header('X-Api-Key')] });
    const ttl = deploymentIdWith({}, { resultsCacheTtl: Duration.seconds(30) });

    expect(new Set([before, identitySources, ttl]).size).toBe(3);
  });

  it('keeps its logical id when nothing changes', () => {
    expect(deploymentIdWith({}, {})).toBe(deploymentIdWith({}, {}));
  });
});
