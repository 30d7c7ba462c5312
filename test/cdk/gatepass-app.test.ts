import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTEXT_KEYS } from '../../lib/app-context.ts';
import { PROJECT_ROOT } from '../../lib/bundling.ts';
import { buildGatepassApp, gatepassStackPropsFromContext } from '../../lib/gatepass-app.ts';
import { CDK_TEST_TIMEOUT, joinedText, logicalId, removeTestOutdirs, testApp } from './test-app.ts';

/** The context of the repository's cdk.json. */
function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}

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
      ['jwt', '["RS256"]', /jwt: .*expected object/],
      ['jwt', '{"jwksUrl":"https://x/jwks"}', /jwt\.algorithms: /],
      ['jwt', { jwksUrl: 'https://x/jwks', algorithms: ['none'] }, /jwt\.algorithms\.0: /],
      ['restApiIds', 'a1b2c3d4e5,not an id', /restApiIds\.1: must be a REST API id/],
      ['alarmTopicArn', 'oncall', /alarmTopicArn: must be the ARN of a standard SNS topic/],
      ['latencyAlarmThresholdMs', '0.5s', /latencyAlarmThresholdMs: must be a whole number/],
      ['tableRemovalPolicy', 'keep', /tableRemovalPolicy: must be retain, snapshot or destroy/],
      ['monitoring', 'off', /monitoring: must be true or false/],
      ['restApiIds', 42, /restApiIds.*list/],
      ['plugins', [{ name: 'x' }], /plugins/],
    ])('rejects %s = %j, naming the key', (key, value, message) => {
      expect(() => propsFrom({ [key]: value })).toThrow(message);
    });
  });

  describe('context keys', () => {
    it('fails on a key it does not know, naming it and the key it resembles', () => {
      expect(() => propsFrom({ restApiIdd: 'a1b2c3d4e5' })).toThrow('unknown context key "restApiIdd" (did you mean "restApiIds"?)');
      expect(() => propsFrom({ alarmTopic: 'x', colour: 'blue' })).toThrow(
        'unknown context keys "alarmTopic" (did you mean "alarmTopicArn"?), "colour"',
      );
    });

    it("accepts the CDK's own keys: its settings, feature flags, the CLI's and cached lookups", () => {
      expect(() =>
        propsFrom({
          'aws:cdk:enable-path-metadata': true,
          'aws:cdk:bundling-stacks': [],
          '@aws-cdk/core:checkSecretUsage': true,
          '@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver': true,
          'cli-telemetry': false,
          'acknowledged-issue-numbers': [32775],
          'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a'],
          ...cdkJsonContext(),
        }),
      ).not.toThrow();
    });

    it('reads every other setting of the stack: table, runtime config, usage, monitoring and its alarms', () => {
      const props = propsFrom({
        tableRemovalPolicy: 'destroy',
        tableDeletionProtection: 'false',
        hookTimeoutMs: '250',
        policyCacheSeconds: '0',
        sessionRetentionSeconds: 86400,
        httpApiResponse: 'iam',
        usage: 'false',
        usageRetentionDays: '60',
        monitoring: true,
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
        latencyAlarmThresholdMs: '250',
      });

      expect(props).toMatchObject({
        tableRemovalPolicy: RemovalPolicy.DESTROY,
        tableDeletionProtection: false,
        config: { hookTimeoutMs: 250, policyCacheSeconds: 0, sessionRetentionSeconds: 86400, httpApiResponse: 'iam' },
        usage: false,
        usageRetentionDays: 60,
        monitoring: true,
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
      });
      expect(props.latencyAlarmThreshold?.toMilliseconds()).toBe(250);
    });

    it('lists every key in docs/DEPLOY.md', () => {
      const deployDoc = readFileSync(path.join(PROJECT_ROOT, 'docs/DEPLOY.md'), 'utf8');
      const undocumented = CONTEXT_KEYS.filter((key) => !deployDoc.includes(`| \`${key}\` |`));

      expect(undocumented).toEqual([]);
    });
  });

  describe('buildGatepassApp', () => {
    it('makes every alarm notify alarmTopicArn, on ALARM and on OK', () => {
      const arn = 'arn:aws:sns:eu-west-1:123456789012:oncall';
      const template = Template.fromStack(buildGatepassApp(testApp({ alarmTopicArn: arn, latencyAlarmThresholdMs: 250 })));

      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      expect(alarms).toHaveLength(4);
      for (const alarm of alarms) {
        expect(alarm.Properties).toMatchObject({ AlarmActions: [arn], OKActions: [arn] });
      }
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 250, MetricName: 'AuthorizerLatency' });
    });

    it('leaves out the dashboard, the alarms and the usage aggregator when monitoring and usage are off', () => {
      const template = Template.fromStack(buildGatepassApp(testApp({ monitoring: 'false', usage: 'false' })));

      template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
      template.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
      expect(Object.keys(template.findOutputs('DashboardUrl'))).toEqual([]);
    });

    it('refuses an alarm topic with monitoring off: the topic would have no alarm to notify', () => {
      expect(() => buildGatepassApp(testApp({ monitoring: false, alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall' }))).toThrow(
        /alarm topic needs monitoring/,
      );
    });

    it('uses an existing (restored) table instead of creating one, and grants the Lambdas access to it', () => {
      const stack = buildGatepassApp(testApp({ existingTableName: 'gatepass-restored-20261206' }));
      const template = Template.fromStack(stack);
      const resources = template.toJSON().Resources;

      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
      template.resourceCountIs('AWS::DynamoDB::Table', 0);
      for (const fn of [stack.authorizer.function, stack.admin.function]) {
        const config = JSON.parse(joinedText(resources[logicalId(fn)].Properties.Environment.Variables.GATEPASS_CONFIG));
        expect(config.tableName).toBe('gatepass-restored-20261206');
      }
      expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).toContain(':table/gatepass-restored-20261206');
      template.hasOutput('TableName', { Value: 'gatepass-restored-20261206' });
    });

    it('refuses an existing table together with settings of a table the stack would create', () => {
      expect(() => buildGatepassApp(testApp({ existingTableName: 'gatepass-restored', tableName: 'gatepass-prod' }))).toThrow(
        /existingTableName cannot be combined with tableName/,
      );
    });

    it("passes the runtime settings to both Lambdas' GATEPASS_CONFIG", () => {
      const stack = buildGatepassApp(testApp({ policyCacheSeconds: 0, hookTimeoutMs: 250 }));

      const resources = Template.fromStack(stack).toJSON().Resources;
      for (const fn of [stack.authorizer.function, stack.admin.function]) {
        const config = JSON.parse(joinedText(resources[logicalId(fn)].Properties.Environment.Variables.GATEPASS_CONFIG));
        expect(config).toMatchObject({ policyCacheSeconds: 0, hookTimeoutMs: 250 });
      }
    });

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
