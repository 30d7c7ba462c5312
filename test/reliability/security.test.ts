/**
 * Security checks that are not about one unit: the admin API is unreachable without IAM
 * in the synthesized template, and raw keys stay out of the logs even when an operator
 * turns on Powertools' event logging. (The soak test checks its 10,000 requests' logs.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatepassStack } from '../../lib/index.ts';
import { createAuthorizerHandler } from '../../lambdas/authorizer/handler.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { buildRequestAuthorizerEvent } from '../../local/authorizer-event.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { capturingLogger } from './helpers.ts';

type Resource = { Type: string; Properties?: Record<string, unknown> };

describe('the synthesized stack keeps the admin API behind IAM', () => {
  let outdir: string;
  let resources: Record<string, Resource>;
  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'gatepass-reliability-cdk-'));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new GatepassStack(app, 'Gatepass');
    resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  });
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  /** Logical ids of the functions the Function URLs point at. */
  const urlTargets = () =>
    ofType('AWS::Lambda::Url').map(([, r]) => {
      const target = r.Properties?.TargetFunctionArn as { 'Fn::GetAtt'?: [string, string]; Ref?: string };
      return target['Fn::GetAtt']?.[0] ?? target.Ref ?? JSON.stringify(target);
    });

  it('gives every Function URL AWS_IAM auth', () => {
    const urls = ofType('AWS::Lambda::Url');
    expect(urls.length).toBeGreaterThanOrEqual(1);
    expect(urls.map(([, r]) => r.Properties?.AuthType)).toEqual(urls.map(() => 'AWS_IAM'));
  });

  it('grants no one an unauthenticated or public invoke of the admin function', () => {
    const admin = new Set(urlTargets());
    const permissions = ofType('AWS::Lambda::Permission').filter(([, r]) => admin.has(referencedId(r.Properties?.FunctionName)));
    for (const [id, permission] of permissions) {
      expect(permission.Properties?.FunctionUrlAuthType, id).not.toBe('NONE');
      expect(permission.Properties?.Principal, id).not.toBe('*');
    }
  });

  it('puts the admin function behind no API Gateway route', () => {
    const admin = [...new Set(urlTargets())];
    const methods = [...ofType('AWS::ApiGateway::Method'), ...ofType('AWS::ApiGatewayV2::Integration')];
    for (const [id, method] of methods) {
      const text = JSON.stringify(method.Properties ?? {});
      for (const fn of admin) expect(text.includes(`"${fn}"`), `${id} integrates ${fn}`).toBe(false);
    }
  });
});

/** `{Ref: X}` or `{Fn::GetAtt: [X, 'Arn']}` → X. */
function referencedId(value: unknown): string {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] } | undefined;
  return v?.Ref ?? v?.['Fn::GetAtt']?.[0] ?? JSON.stringify(value);
}

describe('raw keys in logs when event logging is turned on', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('reliability-log-event');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await table.drop();
  });

  // POWERTOOLS_LOGGER_LOG_EVENT=true (a common Powertools setting) would log the whole
  // event — Authorization header, raw key and all (I7): the handlers pin logEvent: false.
  it('keeps the raw key out of every line when POWERTOOLS_LOGGER_LOG_EVENT=true', async () => {
    vi.stubEnv('POWERTOOLS_LOGGER_LOG_EVENT', 'true');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    const { key } = await new KeyService(new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 })).create({});
    const logs = capturingLogger();
    const handler = createAuthorizerHandler({
      config: parseConfig(JSON.stringify({ tableName: table.tableName })),
      client: doc,
      logger: logs.logger,
      plugins: [],
    });
    for (const authorization of [key, `Bearer ${key}`, `${key}x`]) {
      const event = buildRequestAuthorizerEvent({
        method: 'GET',
        path: '/pets',
        headers: { Authorization: authorization },
        query: new URLSearchParams(),
        sourceIp: '127.0.0.1',
        apiId: 'local',
        stage: 'dev',
      });
      await handler(event, lambdaContext('gatepass-authorizer'));
    }
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.lines.filter((line) => line.includes(key))).toEqual([]);
  });
});
