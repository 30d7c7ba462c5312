import { createHash } from 'node:crypto';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAdminHandler, type AdminHandler } from '../../../lambdas/admin/handler.ts';
import type { HttpResult } from '../../../lambdas/admin/http.ts';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import { KEY_ID, NOW, NOW_MS, storedSession } from '../../support/fixtures.ts';

const TABLE = 'admin-test';
const OTHER_KEY_ID = 'b'.repeat(64);

const LAMBDA_CONTEXT: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'gatepass-admin',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:gatepass-admin',
  memoryLimitInMB: '256',
  awsRequestId: 'd1b2c3d4-0000-4000-8000-000000000001',
  logGroupName: '/aws/lambda/gatepass-admin',
  logStreamName: '2023/11/14/[$LATEST]abcdef',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

interface RequestOptions {
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly isBase64Encoded?: boolean;
}

/** A Function URL request (HTTP API payload 2.0). */
function adminEvent(method: string, path: string, options: RequestOptions = {}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: options.headers ?? {},
    requestContext: {
      accountId: '123456789012',
      apiId: 'url-id',
      domainName: 'url-id.lambda-url.us-east-1.on.aws',
      domainPrefix: 'url-id',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'gatepass-cli' },
      requestId: 'r1',
      routeKey: '$default',
      stage: '$default',
      time: '14/Nov/2023:22:13:20 +0000',
      timeEpoch: NOW_MS,
    },
    isBase64Encoded: options.isBase64Encoded ?? false,
    ...(options.body === undefined ? {} : { body: options.body }),
  };
}

function jsonRequest(method: string, path: string, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return adminEvent(method, path, {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function bodyOf(result: HttpResult): Record<string, unknown> {
  return JSON.parse(String(result.body)) as Record<string, unknown>;
}

function errorOf(result: HttpResult): { code: string; message: string; details?: unknown } {
  return bodyOf(result).error as { code: string; message: string; details?: unknown };
}

function fieldsNamed(result: HttpResult): string[] {
  const details = errorOf(result).details as { field: string }[];
  return details.map((detail) => detail.field);
}

const ddb = mockClient(DynamoDBDocumentClient);

function writesSent(): number {
  return (
    ddb.commandCalls(PutCommand).length +
    ddb.commandCalls(UpdateCommand).length +
    ddb.commandCalls(DeleteCommand).length +
    ddb.commandCalls(TransactWriteCommand).length
  );
}

/** The single-item transactions (session creates, changes, deletes) sent, in order. */
function transactItems() {
  return ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.TransactItems![0]!);
}

/** A transaction cancelled by its condition, with the item as it is (none: absent). */
function conditionCancelled(item?: object): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'cancelled',
    $metadata: {},
    CancellationReasons: [{ Code: 'ConditionalCheckFailed', ...(item === undefined ? {} : { Item: marshall(item) as never }) }],
  });
}

describe('createAdminHandler', () => {
  let handler: AdminHandler;
  const logger = new Logger({ serviceName: 'gatepass-admin-test', logLevel: 'SILENT' });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW_MS);
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    handler = createAdminHandler({ config: ConfigSchema.parse({ tableName: TABLE }), client, logger });
  });

  afterEach(() => {
    ddb.reset();
    vi.useRealTimers();
  });

  describe('POST /keys', () => {
    it('answers 201 with a gp_ key whose SHA-256 is the keyId, and stores only the hash', async () => {
      ddb.on(TransactWriteCommand).resolves({});
      ddb.on(GetCommand).resolves({});

      const result = await handler(jsonRequest('POST', '/keys', { alias: 'ci', quotaMax: 10, quotaRenewalRate: 60 }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(201);
      const { key, keyId, session } = bodyOf(result) as { key: string; keyId: string; session: Record<string, unknown> };
      expect(key).toMatch(/^gp_[A-Za-z0-9_-]{43}$/);
      expect(keyId).toBe(createHash('sha256').update(key).digest('hex'));
      expect(session).toMatchObject({
        keyId,
        alias: 'ci',
        quotaMax: 10,
        quotaRemaining: 10,
        quotaRenews: NOW + 60,
        version: 1,
        createdAt: NOW,
      });
      expect(session).not.toHaveProperty('pk');

      const puts = transactItems();
      expect(puts).toHaveLength(1);
      // With the session, its record (`#past`): the new version, on condition that no life of the key was deleted since it was read.
      const record = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![1]!.Update!;
      expect(record.Key).toEqual({ pk: `key#${keyId}#past` });
      expect(Object.values(record.ExpressionAttributeValues ?? {})).toContain(1);
      const input = puts[0]!.Put!;
      expect(input.TableName).toBe(TABLE);
      expect(input.Item).toMatchObject({ pk: `key#${keyId}`, keyId });
      expect(JSON.stringify(input.Item)).not.toContain(key);
      expect(JSON.stringify(input.Item)).not.toContain(key.slice(3));
    });

    it("imports a caller's key, storing its hash", async () => {
      ddb.on(TransactWriteCommand).resolves({});
      ddb.on(GetCommand).resolves({});
      const imported = 'my-own-imported-key-0001';

      const result = await handler(jsonRequest('POST', '/keys', { key: imported }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(201);
      expect(bodyOf(result)).toMatchObject({ key: imported, keyId: createHash('sha256').update(imported).digest('hex') });
      expect(JSON.stringify(transactItems()[0]!.Put!.Item)).not.toContain(imported);
    });

    it('reads a base64-encoded body, as a Function URL sends it', async () => {
      ddb.on(TransactWriteCommand).resolves({});
      ddb.on(GetCommand).resolves({});
      const event = adminEvent('POST', '/keys', {
        body: Buffer.from(JSON.stringify({ alias: 'b64' })).toString('base64'),
        isBase64Encoded: true,
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
      });

      const result = await handler(event, LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(201);
      expect(bodyOf(result)).toMatchObject({ session: { alias: 'b64' } });
    });

    it('answers 409 when a session already exists for an imported key', async () => {
      ddb.on(TransactWriteCommand).rejects(conditionCancelled(storedSession()));
      ddb.on(GetCommand).resolves({});

      const result = await handler(jsonRequest('POST', '/keys', { key: 'my-own-imported-key-0001' }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(409);
      expect(errorOf(result).code).toBe('already_exists');
    });
  });

  describe('rejected requests write nothing', () => {
    it('answers 415 for a text/plain body', async () => {
      const event = adminEvent('POST', '/keys', { body: '{}', headers: { 'content-type': 'text/plain' } });

      const result = await handler(event, LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(415);
      expect(errorOf(result).code).toBe('unsupported_media_type');
      expect(writesSent()).toBe(0);
    });

    it('answers 415 when there is no content type', async () => {
      const result = await handler(adminEvent('POST', '/keys', { body: '{}' }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(415);
      expect(writesSent()).toBe(0);
    });

    it('answers 413 for a 70 KiB body', async () => {
      const body = JSON.stringify({ alias: 'x', tags: ['y'.repeat(70 * 1024)] });

      const result = await handler(jsonRequest('POST', '/keys', body), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(413);
      expect(errorOf(result).code).toBe('payload_too_large');
      expect(writesSent()).toBe(0);
    });

    it('answers 400 for invalid JSON', async () => {
      const result = await handler(jsonRequest('POST', '/keys', '{"alias": '), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(400);
      expect(errorOf(result).code).toBe('invalid_json');
      expect(writesSent()).toBe(0);
    });

    it('answers 400 for a body that is not an object', async () => {
      const result = await handler(jsonRequest('POST', '/keys', '[1, 2]'), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(400);
      expect(fieldsNamed(result)).toEqual(['(body)']);
      expect(writesSent()).toBe(0);
    });

    it('answers 400 naming every bad field at once: wrong types and unknown fields', async () => {
      const body = { alias: 5, quotaMax: 'ten', rate: -1, isInactive: 'yes', bogus: 1, extra: {} };

      const result = await handler(jsonRequest('POST', '/keys', body), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(400);
      expect(errorOf(result).code).toBe('invalid_fields');
      expect(fieldsNamed(result)).toEqual(expect.arrayContaining(['alias', 'quotaMax', 'rate', 'isInactive', 'bogus', 'extra']));
      expect(fieldsNamed(result)).toHaveLength(6);
      expect(writesSent()).toBe(0);
    });

    it('answers 400 naming a too-short imported key together with the other bad fields', async () => {
      const result = await handler(jsonRequest('POST', '/keys', { key: 'short', quotaMax: 'ten', bogus: 1 }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(400);
      expect(fieldsNamed(result)).toEqual(expect.arrayContaining(['key', 'quotaMax', 'bogus']));
      expect(writesSent()).toBe(0);
    });

    it('answers 400 naming bad fields of a PATCH, without writing', async () => {
      ddb.on(GetCommand).resolves({ Item: storedSession() });

      const result = await handler(jsonRequest('PATCH', `/keys/${KEY_ID}`, { quotaMax: 'ten', nope: true }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(400);
      expect(fieldsNamed(result)).toEqual(expect.arrayContaining(['quotaMax', 'nope']));
      expect(writesSent()).toBe(0);
    });

    it('answers 400 for a PATCH that would leave a rate without a per', async () => {
      ddb.on(GetCommand).resolves({ Item: storedSession({ rate: 0, per: 0 }) });

      const result = await handler(jsonRequest('PATCH', `/keys/${KEY_ID}`, { rate: 5 }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(400);
      expect(fieldsNamed(result)).toEqual(['per']);
      expect(writesSent()).toBe(0);
    });

    it('answers 400 for an If-Match that is not a version', async () => {
      ddb.on(GetCommand).resolves({ Item: storedSession() });

      const result = await handler(jsonRequest('PATCH', `/keys/${KEY_ID}`, { alias: 'x' }, { 'If-Match': 'abc' }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(400);
      expect(writesSent()).toBe(0);
    });

    it('answers 404 for an unknown route', async () => {
      const result = await handler(adminEvent('GET', '/nothing-here'), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(404);
      expect(errorOf(result).code).toBe('not_found');
      expect(ddb.calls()).toHaveLength(0);
    });

    it('answers 404 for a key id that is not 64 hex characters', async () => {
      const result = await handler(adminEvent('GET', '/keys/not-a-key-id'), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(404);
      expect(ddb.calls()).toHaveLength(0);
    });

    it('answers 405 for a known path with another method', async () => {
      const onHealth = await handler(adminEvent('POST', '/health'), LAMBDA_CONTEXT);
      const onKeys = await handler(adminEvent('DELETE', '/keys'), LAMBDA_CONTEXT);

      expect(onHealth.statusCode).toBe(405);
      expect(errorOf(onHealth).code).toBe('method_not_allowed');
      expect(onKeys.statusCode).toBe(405);
      expect(ddb.calls()).toHaveLength(0);
    });

    it('answers 404 for GET of an unknown key id', async () => {
      ddb.on(GetCommand).resolves({});

      const result = await handler(adminEvent('GET', `/keys/${OTHER_KEY_ID}`), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(404);
      expect(errorOf(result).code).toBe('not_found');
      expect(writesSent()).toBe(0);
    });

    it('answers 404 for PATCH of an unknown key id, without writing', async () => {
      ddb.on(GetCommand).resolves({});

      const result = await handler(jsonRequest('PATCH', `/keys/${OTHER_KEY_ID}`, { alias: 'x' }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(404);
      expect(writesSent()).toBe(0);
    });

    it('answers 404 for DELETE of an unknown key id (its read found nothing)', async () => {
      ddb.on(GetCommand).resolves({});

      const result = await handler(adminEvent('DELETE', `/keys/${OTHER_KEY_ID}`), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(404);
    });
  });

  describe('PATCH /keys/{keyId}', () => {
    it('answers 409 with the current version, from the item its failed write returns, when If-Match names an old one', async () => {
      const current = storedSession({ version: 3 });
      ddb.on(GetCommand).resolves({ Item: current });
      const later = storedSession({ version: 4 });
      ddb.on(TransactWriteCommand).rejects(conditionCancelled(later));

      const stale = await handler(jsonRequest('PATCH', `/keys/${KEY_ID}`, { alias: 'renamed' }, { 'If-Match': '"2"' }), LAMBDA_CONTEXT);
      const raced = await handler(jsonRequest('PATCH', `/keys/${KEY_ID}`, { alias: 'renamed' }, { 'If-Match': '"3"' }), LAMBDA_CONTEXT);

      expect(stale.statusCode).toBe(409);
      expect(errorOf(stale)).toMatchObject({ code: 'version_conflict', details: { currentVersion: 3 } });
      expect(raced.statusCode).toBe(409);
      expect(errorOf(raced)).toMatchObject({ code: 'version_conflict', details: { currentVersion: 4 } });
      expect(transactItems()).toHaveLength(1);
      expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    });

    it('answers 200 with the updated session, without storage details, when there is no If-Match', async () => {
      const current = storedSession({ version: 7 });
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: current })
        .resolves({ Item: { ...current, alias: 'renamed', version: 8 } });
      ddb.on(TransactWriteCommand).resolves({});

      const result = await handler(jsonRequest('PATCH', `/keys/${KEY_ID}`, { alias: 'renamed' }), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({ alias: 'renamed', version: 8 });
      expect(bodyOf(result)).not.toHaveProperty('pk');
    });
  });

  describe('faults', () => {
    it('answers 500 without details when DynamoDB fails', async () => {
      ddb.on(GetCommand).rejects(new Error('connect ECONNREFUSED 10.0.0.1:443'));

      const result = await handler(adminEvent('GET', `/keys/${KEY_ID}`), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(500);
      expect(errorOf(result).code).toBe('internal_error');
      expect(JSON.stringify(bodyOf(result))).not.toContain('ECONNREFUSED');
    });

    it('answers 500 to every request when the config is invalid', async () => {
      const misconfigured = createAdminHandler({ config: '{"tableName": 1}', logger });

      const result = await misconfigured(adminEvent('GET', '/health'), LAMBDA_CONTEXT);

      expect(result.statusCode).toBe(500);
      expect(ddb.calls()).toHaveLength(0);
    });
  });

  it('answers GET /health with 200', async () => {
    const result = await handler(adminEvent('GET', '/health'), LAMBDA_CONTEXT);

    expect(result.statusCode).toBe(200);
  });
});
