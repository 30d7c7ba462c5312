import { Logger } from '@aws-lambda-powertools/logger';
import { UpdateCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import type { AuthorizerEvent } from '../../lambdas/authorizer/events.ts';
import { createAuthorizerHandler, type AuthorizerOptions } from '../../lambdas/authorizer/handler.ts';
import { ConfigSchema, type ConfigInput } from '../../lambdas/core/model/config.ts';
import { generateKey } from '../../lambdas/core/model/keys.ts';
import { REASONS } from '../../lambdas/core/model/reasons.ts';
import { FAULT_KINDS } from '../../lambdas/core/observability/decision-record.ts';
import { createDocumentClient } from '../../lambdas/core/store/dynamo-client.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { captureStdout, type EmfLine } from '../support/emf.ts';

/**
 * The metric line the authorizer handler writes for each request (CloudWatch embedded
 * metric format), parsed: an allow, every denial reason gatepass has, every fault kind.
 * Real handler, DynamoDB Local.
 */
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets/42';
const CONTEXT = { functionName: 'gatepass-authorizer', awsRequestId: 'r', getRemainingTimeInMillis: () => 3000 } as unknown as Context;
const SECRET = 'metrics-test-secret-0123456789abcdef';
const logger = new Logger({ serviceName: 'gatepass-authorizer-test', logLevel: 'SILENT' });

function event(authorization?: string, methodArn = METHOD_ARN): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn,
    path: '/pets/42',
    httpMethod: 'GET',
    headers: authorization === undefined ? {} : { Authorization: authorization },
    requestContext: { apiId: 'api1', stage: 'prod', identity: { sourceIp: '203.0.113.9' } },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

const DECISION_METRICS = ['Decisions', 'AuthorizerLatency', 'DynamoDBRequests', 'ConditionalCheckFailures', 'Throttles'];
const FAULT_METRICS = ['Faults', 'AuthorizerLatency', 'DynamoDBRequests', 'ConditionalCheckFailures', 'Throttles'];

function directiveOf(line: EmfLine) {
  expect(line._aws.CloudWatchMetrics).toHaveLength(1);
  const [directive] = line._aws.CloudWatchMetrics;
  return {
    namespace: directive!.Namespace,
    dimensions: directive!.Dimensions,
    metrics: directive!.Metrics.map((m) => `${m.Name}:${m.Unit}`),
  };
}

describe('the metric line of each request', () => {
  let table: TestTable;
  let keys: KeyService;
  const today = new Date().toISOString().slice(0, 10);

  function handler(config: ConfigInput = {}, options: Partial<AuthorizerOptions> = {}) {
    return createAuthorizerHandler({
      config: ConfigSchema.parse({ tableName: table.tableName, ...config }),
      client: table.doc,
      logger,
      ...options,
    });
  }

  /** The metric lines one request writes (a rejection is part of the answer, not of the test). */
  async function linesOf(run: ReturnType<typeof handler>, ev: AuthorizerEvent): Promise<EmfLine[]> {
    const { emf } = await captureStdout(() => run(ev, CONTEXT).catch(() => undefined));
    return emf;
  }

  async function keyWith(fields: Record<string, unknown>): Promise<{ key: string; keyId: string }> {
    return keys.create(fields);
  }

  const covered = new Set<string>();

  /** Asserts the decision line of one request and returns it. */
  async function expectDecision(
    run: ReturnType<typeof handler>,
    ev: AuthorizerEvent,
    expected: { outcome: string; reason: string; keyId?: string },
  ) {
    const lines = await linesOf(run, ev);
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(directiveOf(line)).toEqual({
      namespace: 'Gatepass',
      dimensions: [['service', 'Outcome', 'Reason'], ['service']],
      metrics: [
        'Decisions:Count',
        'AuthorizerLatency:Milliseconds',
        'DynamoDBRequests:Count',
        'ConditionalCheckFailures:Count',
        'Throttles:Count',
      ],
    });
    expect(line).toMatchObject({ service: 'gatepass-authorizer', Outcome: expected.outcome, Reason: expected.reason, Decisions: 1 });
    expect(line).toMatchObject({ outcome: expected.outcome, reason: expected.reason, day: today });
    expect(line.keyId).toBe(expected.keyId);
    expect(line.AuthorizerLatency).toBeGreaterThan(0);
    for (const name of DECISION_METRICS) expect(typeof line[name]).toBe('number');
    covered.add(expected.reason);
    return line;
  }

  beforeAll(async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    table = await createTestTable('decision-metrics');
    keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 60 }));
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await table.drop();
  });

  describe('a decision', () => {
    it('counts an allow under Outcome allow, Reason allowed, with the key id and the UTC day as plain properties', async () => {
      const { key, keyId } = await keyWith({});

      const line = await expectDecision(handler(), event(key), { outcome: 'allow', reason: 'allowed', keyId });

      // A key with nothing to count: one consistent GetItem, no failed condition.
      expect(line).toMatchObject({ DynamoDBRequests: 1, ConditionalCheckFailures: 0, Throttles: 0 });
      expect(JSON.stringify(line)).not.toContain(key);
    });

    it('counts each denial of a known key under its reason, with the key id', async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases: Array<[string, Record<string, unknown>]> = [
        ['key_inactive', { isInactive: true }],
        ['session_expired', { expires: now - 60 }],
        ['api_not_allowed', { accessRights: { 'other-api': {} } }],
        ['url_not_allowed', { accessRights: { api1: { allowedUrls: [{ url: '/cats', methods: ['GET'] }] } } }],
        ['quota_exceeded', { quotaMax: 0 }],
        ['no_matching_policy', { applyPolicies: ['no-such-policy'] }],
      ];
      const run = handler();
      for (const [reason, fields] of cases) {
        const { key, keyId } = await keyWith(fields);
        await expectDecision(run, event(key), { outcome: 'deny', reason, keyId });
      }
    });

    it('counts rate_limited with the failed conditional write that found the window full', async () => {
      const { key, keyId } = await keyWith({ rate: 1, per: 60 });
      const run = handler();
      await expectDecision(run, event(key), { outcome: 'allow', reason: 'allowed', keyId });

      const line = await expectDecision(run, event(key), { outcome: 'deny', reason: 'rate_limited', keyId });

      expect(line).toMatchObject({ DynamoDBRequests: 1, ConditionalCheckFailures: 1 });
    });

    it('names no key for a missing credential (401) or a key that does not exist', async () => {
      const run = handler();
      await expectDecision(run, event(), { outcome: 'deny', reason: 'missing_credential' });
      await expectDecision(run, event(generateKey()), { outcome: 'deny', reason: 'key_not_found' });
    });

    it("counts a plugin's denial under its reason, for the key it denied", async () => {
      const { key, keyId } = await keyWith({});
      const run = handler({}, { plugins: [{ name: 'deny-all', postAuth: () => ({ deny: { message: 'not today' } }) }] });

      await expectDecision(run, event(key), { outcome: 'deny', reason: 'plugin_denied', keyId });
    });

    it('counts the answer API Gateway gets: an Allow refused because result caching is on is url_rights_not_cacheable', async () => {
      const { key, keyId } = await keyWith({ accessRights: { api1: { allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] } } });

      await expectDecision(handler({ resultsCacheTtl: 60 }), event(key), { outcome: 'deny', reason: 'url_rights_not_cacheable', keyId });
    });

    it('counts token denials without a key id (no identity is known)', async () => {
      const run = handler({ jwt: { secret: SECRET, algorithms: ['HS256'] } });
      const now = Math.floor(Date.now() / 1000);
      const sign = (claims: Record<string, unknown>, secret = SECRET) =>
        new SignJWT({ sub: 'user-1', ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

      await expectDecision(run, event(`Bearer ${await sign({ exp: now + 60 }, 'another-secret-0123456789abcdefghij')}`), {
        outcome: 'deny',
        reason: 'token_invalid',
      });
      await expectDecision(run, event(`Bearer ${await sign({ exp: now - 3600 })}`), { outcome: 'deny', reason: 'token_expired' });
      await expectDecision(run, event(`Bearer ${await sign({ exp: now + 7200, nbf: now + 3600 })}`), {
        outcome: 'deny',
        reason: 'token_not_yet_valid',
      });
    });

    it('has covered every denial reason gatepass has', () => {
      expect([...covered].filter((r) => r !== 'allowed').sort()).toEqual(Object.keys(REASONS).sort());
    });

    it('keeps the DynamoDB counts of concurrent requests apart', async () => {
      const { key } = await keyWith({});
      const run = handler();

      const { emf } = await captureStdout(() => Promise.all(Array.from({ length: 20 }, () => run(event(key), CONTEXT))));

      expect(emf).toHaveLength(20);
      expect(emf.map((line) => line.DynamoDBRequests)).toEqual(Array(20).fill(1));
    });
  });

  describe('a fault', () => {
    const coveredKinds = new Set<string>();

    async function expectFault(run: ReturnType<typeof handler>, ev: AuthorizerEvent, kind: string) {
      const lines = await linesOf(run, ev);
      expect(lines).toHaveLength(1);
      const line = lines[0]!;
      expect(directiveOf(line)).toEqual({
        namespace: 'Gatepass',
        dimensions: [['service', 'Kind'], ['service']],
        metrics: FAULT_METRICS.map((name) => `${name}:${name === 'AuthorizerLatency' ? 'Milliseconds' : 'Count'}`),
      });
      expect(line).toMatchObject({ Kind: kind, Faults: 1, outcome: 'fault' });
      expect(line).not.toHaveProperty('keyId');
      expect(line).not.toHaveProperty('day');
      coveredKinds.add(kind);
      return line;
    }

    it('is of kind dynamodb when DynamoDB cannot be reached, with each attempt counted', async () => {
      const { key } = await keyWith({});
      const unreachable = createDocumentClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1' });
      const run = createAuthorizerHandler({ config: ConfigSchema.parse({ tableName: table.tableName }), client: unreachable, logger });

      const line = await expectFault(run, event(key), 'dynamodb');

      expect(line.DynamoDBRequests).toBe(2);
    });

    it('is of kind jwks when the JWKS cannot be fetched', async () => {
      const run = handler({ jwt: { jwksUrl: 'http://127.0.0.1:9/jwks.json', algorithms: ['RS256'] } });
      const token = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u', exp: 9_999_999_999 })).toString('base64url')}.c2ln`;

      await expectFault(run, event(`Bearer ${token}`), 'jwks');
    });

    it('is of kind plugin when a hook throws', async () => {
      const { key } = await keyWith({});
      const run = handler(
        {},
        {
          plugins: [
            {
              name: 'broken',
              postAuth: () => {
                throw new Error('boom');
              },
            },
          ],
        },
      );

      await expectFault(run, event(key), 'plugin');
    });

    it('is of kind config when the config is invalid', async () => {
      const run = createAuthorizerHandler({ config: '{"tableName": 42}', client: table.doc, logger });

      await expectFault(run, event(generateKey()), 'config');
    });

    it('is of kind contention when every counting write loses to a concurrent settings change', async () => {
      const { key, keyId } = await keyWith({ rate: 1000, per: 1 });
      const contended = DynamoDBDocumentClient.from(createDynamoClient(table.endpoint));
      contended.middlewareStack.add(
        (next, context) => async (args) => {
          const input = args.input as { Key?: { pk?: unknown }; UpdateExpression?: string };
          if (context.commandName === 'UpdateItemCommand' && JSON.stringify(input.Key).includes(keyId)) {
            await table.doc.send(
              new UpdateCommand({
                TableName: table.tableName,
                Key: { pk: `key#${keyId}` },
                UpdateExpression: 'SET version = version + :one',
                ExpressionAttributeValues: { ':one': 1 },
              }),
            );
          }
          return next(args);
        },
        { step: 'initialize', name: 'bumpVersionFirst' },
      );
      const run = createAuthorizerHandler({ config: ConfigSchema.parse({ tableName: table.tableName }), client: contended, logger });

      const line = await expectFault(run, event(key), 'contention');

      expect(line.ConditionalCheckFailures).toBeGreaterThanOrEqual(8);
    });

    it('is of kind other for anything else (an event whose ARN is not an execute-api ARN)', async () => {
      await expectFault(handler(), event(generateKey(), 'not-an-arn'), 'other');
    });

    it('has covered every fault kind', () => {
      expect([...coveredKinds].sort()).toEqual([...FAULT_KINDS].sort());
    });
  });

  it('captures one cold start, on the first invocation of a Lambda started on demand', async () => {
    vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
    const run = handler();
    const { key } = await keyWith({});

    const first = await linesOf(run, event(key));
    const second = await linesOf(run, event(key));

    expect(first.filter((line) => line.ColdStart === 1)).toHaveLength(1);
    expect(second.filter((line) => 'ColdStart' in line)).toHaveLength(0);
    expect(directiveOf(first.find((line) => line.ColdStart === 1)!).metrics).toEqual(['ColdStart:Count']);
  });

  it('writes nothing when metrics are off (the local gateway)', async () => {
    const { key } = await keyWith({});

    expect(await linesOf(handler({}, { metrics: false }), event(key))).toEqual([]);
  });
});
