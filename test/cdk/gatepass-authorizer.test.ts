import * as path from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundling.ts';
import { GatepassAuthorizer } from '../../lib/gatepass-authorizer.ts';
import type { GatepassAuthorizerProps } from '../../lib/gatepass-authorizer-props.ts';
import { PluginLayer } from '../../lib/plugin-layer.ts';
import { SessionTable } from '../../lib/session-table.ts';
import { CDK_TEST_TIMEOUT, gatepassConfigOf, logicalId, removeTestOutdirs, roleStatements, testApp } from './test-app.ts';

const RENEW_ON_EXPIRY = path.join(PROJECT_ROOT, 'examples/plugins/renew-on-expiry.ts');
const IP_DENY = path.join(PROJECT_ROOT, 'examples/plugins/ip-deny.ts');

/** A fresh stack with a table and the authorizer (the template is read after `act`). */
function setUp(props: Omit<GatepassAuthorizerProps, 'table'> = {}) {
  const stack = new Stack(testApp(), 'Test');
  const sessions = new SessionTable(stack, 'Sessions');
  const authorizer = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table, ...props });
  return { stack, sessions, authorizer };
}

function build(props: Omit<GatepassAuthorizerProps, 'table'> = {}) {
  const built = setUp(props);
  return { ...built, template: Template.fromStack(built.stack) };
}

function functionProperties(template: Template, authorizer: GatepassAuthorizer): Record<string, unknown> {
  return template.toJSON().Resources[logicalId(authorizer.function)].Properties;
}

describe('GatepassAuthorizer', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  describe('function', () => {
    it('runs Node.js 22 on ARM64 with 256 MB and a 3 s timeout, without --enable-source-maps', () => {
      const { template, authorizer } = build();

      const properties = functionProperties(template, authorizer);
      expect(properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 3,
      });
      expect((properties.Environment as { Variables: object }).Variables).not.toHaveProperty('NODE_OPTIONS');
    });

    it('refuses a Lambda timeout shorter than two DynamoDB calls at their worst', () => {
      expect(() => build({ timeout: Duration.seconds(1), hookTimeoutMs: 100 })).toThrow(/must be at least 1700 ms/);
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
        httpApiResponse: 'iam',
        jwt: { jwksUrl: 'https://issuer.example/.well-known/jwks.json', algorithms: ['RS256'], defaultPolicies: ['free'] },
      });

      expect(gatepassConfigOf(template, logicalId(authorizer.function))).toMatchObject({
        apiKeyHeader: 'X-Api-Key',
        plugins: ['renew-on-expiry'],
        policyCacheSeconds: 0,
        httpApiResponse: 'iam',
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
      expect(functionProperties(template, authorizer).LoggingConfig).toEqual({ LogGroup: { Ref: logicalId(authorizer.logGroup) } });
    });

    it('neither traces nor reserves concurrency by default', () => {
      const { template, authorizer } = build();

      const properties = functionProperties(template, authorizer);
      expect(properties.TracingConfig).toBeUndefined();
      expect(properties.ReservedConcurrentExecutions).toBeUndefined();
    });

    it('traces with X-Ray and reserves concurrency when asked', () => {
      const { template, authorizer } = build({ tracing: true, reservedConcurrency: 50 });

      expect(functionProperties(template, authorizer)).toMatchObject({
        TracingConfig: { Mode: 'Active' },
        ReservedConcurrentExecutions: 50,
      });
      const actions = roleStatements(template, logicalId(authorizer.role)).flatMap((s) => s.actions);
      expect(actions).toEqual(expect.arrayContaining(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']));
    });
  });

  describe('permissions', () => {
    it('may only write its log group and GetItem, PutItem and UpdateItem on the table', () => {
      const { template, authorizer, sessions } = build();

      expect(roleStatements(template, logicalId(authorizer.role))).toEqual([
        {
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [{ 'Fn::GetAtt': [logicalId(authorizer.logGroup), 'Arn'] }],
        },
        {
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [{ 'Fn::GetAtt': [logicalId(sessions.table), 'Arn'] }],
        },
      ]);
    });

    it('has no managed policy and is granted nothing like Scan, Query, DeleteItem or a wildcard', () => {
      const { template, authorizer } = build();

      expect(template.toJSON().Resources[logicalId(authorizer.role)].Properties.ManagedPolicyArns).toBeUndefined();
      const statements = roleStatements(template, logicalId(authorizer.role));
      const actions = statements.flatMap((s) => s.actions);
      for (const forbidden of ['dynamodb:Scan', 'dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
        expect(actions).not.toContain(forbidden);
      }
      expect(actions.filter((action) => action.includes('*'))).toEqual([]);
      expect(statements.flatMap((s) => s.resources).filter((resource) => JSON.stringify(resource).includes('*'))).toEqual([]);
    });
  });

  describe('plugins', () => {
    it('attaches a plugin layer and appends its name to the config, also after construction', () => {
      const { stack, authorizer } = setUp({ plugins: ['from-props'] });
      const renew = new PluginLayer(stack, 'Renew', { entry: RENEW_ON_EXPIRY });
      const ipDeny = new PluginLayer(stack, 'IpDeny', { entry: IP_DENY });

      authorizer.addPlugin(renew);
      authorizer.addPlugin(ipDeny);

      const template = Template.fromStack(stack);
      expect(gatepassConfigOf(template, logicalId(authorizer.function)).plugins).toEqual(['from-props', 'renew-on-expiry', 'ip-deny']);
      expect(authorizer.config.plugins).toEqual(['from-props', 'renew-on-expiry', 'ip-deny']);
      expect(functionProperties(template, authorizer).Layers).toEqual([{ Ref: logicalId(renew.layer) }, { Ref: logicalId(ipDeny.layer) }]);
    });

    it('rejects a second plugin with the same name', () => {
      const { stack, authorizer } = setUp();
      authorizer.addPlugin(new PluginLayer(stack, 'Renew', { entry: RENEW_ON_EXPIRY }));

      expect(() => authorizer.addPlugin(new PluginLayer(stack, 'Again', { entry: RENEW_ON_EXPIRY }))).toThrow(/already configured/);
    });
  });

  describe('validation', () => {
    it('rejects a hook timeout that the Lambda timeout would cut off', () => {
      expect(() => build({ hookTimeoutMs: 3000 })).toThrow(/hookTimeoutMs/);
    });

    it('rejects result caching without an identity source to use as the cache key', () => {
      expect(() => build({ resultsCacheTtl: Duration.minutes(1), identitySources: [] })).toThrow(/identity source/);
    });

    it('rejects an invalid config at synth time, naming the field', () => {
      expect(() => build({ apiKeyHeader: 'X Api Key' })).toThrow(/apiKeyHeader/);
      expect(() => build({ jwt: { jwksUrl: 'https://issuer.example/jwks.json', publicKeyPem: 'pem', algorithms: ['RS256'] } })).toThrow(
        /jwksUrl, publicKeyPem or secret/,
      );
    });

    it('warns that a JWT secret ends up in clear text', () => {
      const { stack } = build({ jwt: { secret: 'x'.repeat(32), algorithms: ['HS256'] } });

      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('clear text'));
    });

    it('warns when result caching is on', () => {
      const { stack } = build({ resultsCacheTtl: Duration.minutes(5) });

      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('result caching is on'));
    });

    it('does not warn about caching when it is off', () => {
      const { stack } = build();

      Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('result caching is on'));
    });
  });
});
