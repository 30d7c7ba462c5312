import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { audited, type AuditEntry } from '../../../lambdas/admin/audit.ts';
import { createAdminHandler } from '../../../lambdas/admin/handler.ts';
import { json, noContent } from '../../../lambdas/admin/http.ts';
import type { Route } from '../../../lambdas/admin/route.ts';
import { VersionConflictError } from '../../../lambdas/core/model/errors.ts';
import { keyIdOf } from '../../../lambdas/core/model/keys.ts';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import { KEY_ID, NOW_MS } from '../../support/fixtures.ts';

const USER_ARN = 'arn:aws:iam::123456789012:user/ops-alice';

/** A Function URL request (payload 2.0), with the IAM principal AWS adds to it. */
function event(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; iam?: boolean } = {}) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    requestContext: {
      requestId: 'req-1',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'test' },
      ...(options.iam === false ? {} : { authorizer: { iam: { userArn: USER_ARN } } }),
    },
    isBase64Encoded: false,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  } as unknown as APIGatewayProxyEventV2;
}

function auditTable(routes: Route[], caller?: string): { table: Route[]; entries: AuditEntry[] } {
  const entries: AuditEntry[] = [];
  const table = audited(routes, { write: (entry) => entries.push(entry), clock: () => NOW_MS, ...(caller ? { caller } : {}) });
  return { table, entries };
}

describe('audited', () => {
  it('writes one line per write with time, caller, action, target, versions and outcome', async () => {
    const { table, entries } = auditTable([
      { method: 'PATCH', pattern: /x/, action: 'keys.update', handle: async () => json(200, { keyId: KEY_ID, version: 4 }) },
    ]);

    await table[0]!.handle(event('PATCH', `/keys/${KEY_ID}`), { keyId: KEY_ID });

    expect(entries).toEqual([
      {
        time: new Date(NOW_MS).toISOString(),
        caller: USER_ARN,
        action: 'keys.update',
        target: KEY_ID,
        versionBefore: 3,
        versionAfter: 4,
        outcome: 'ok',
        status: 200,
        requestId: 'req-1',
      },
    ]);
  });

  it('leaves reads alone', async () => {
    const { table, entries } = auditTable([{ method: 'GET', pattern: /x/, handle: async () => json(200, {}) }]);

    await table[0]!.handle(event('GET', '/keys'), {});

    expect(entries).toEqual([]);
  });

  it('records a refused write with its error code and the version found, and still throws', async () => {
    const conflict = new VersionConflictError('version conflict', { version: 7 });
    const { table, entries } = auditTable(
      [
        {
          method: 'DELETE',
          pattern: /x/,
          action: 'keys.delete',
          handle: async () => {
            throw conflict;
          },
        },
      ],
      'local',
    );

    await expect(
      table[0]!.handle(event('DELETE', `/keys/${KEY_ID}`, { headers: { 'if-match': '6' }, iam: false }), { keyId: KEY_ID }),
    ).rejects.toBe(conflict);

    expect(entries[0]).not.toHaveProperty('versionAfter');
    expect(entries[0]).toMatchObject({
      caller: 'local',
      action: 'keys.delete',
      target: KEY_ID,
      versionBefore: 7,
      outcome: 'version_conflict',
      status: 409,
    });
  });

  it('names a delete by the version If-Match gave, and a fault as internal_error', async () => {
    const { table, entries } = auditTable([
      { method: 'DELETE', pattern: /x/, action: 'policies.delete', handle: async () => noContent() },
      {
        method: 'PUT',
        pattern: /y/,
        action: 'policies.put',
        handle: async () => {
          throw new Error('DynamoDB is down');
        },
      },
    ]);

    await table[0]!.handle(event('DELETE', '/policies/gold', { headers: { 'if-match': '2' } }), { id: 'gold' });
    await expect(table[1]!.handle(event('PUT', '/policies/gold'), { id: 'gold' })).rejects.toThrow('DynamoDB is down');

    expect(entries.map(({ time: _t, caller: _c, requestId: _r, status: _s, ...rest }) => rest)).toEqual([
      { action: 'policies.delete', target: 'gold', versionBefore: 2, outcome: 'ok' },
      { action: 'policies.put', target: 'gold', outcome: 'internal_error' },
    ]);
  });
});

describe('the admin handler audit line', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const logger = new Logger({ serviceName: 'gatepass-admin-test', logLevel: 'SILENT' });
  const context = { functionName: 'gatepass-admin', awsRequestId: 'r' } as Context;
  let info: { mock: { calls: unknown[][] } };

  beforeEach(() => {
    info = vi.spyOn(logger, 'info');
  });
  afterEach(() => {
    ddb.reset();
    vi.restoreAllMocks();
  });

  const handler = () =>
    createAdminHandler({
      config: ConfigSchema.parse({ tableName: 'audit-test' }),
      client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
      logger,
    });

  const auditLines = (): unknown[][] => info.mock.calls.filter((call) => call[0] === 'admin audit');

  it('logs `admin audit` for a create with the key id, never the raw key', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({});

    const result = await handler()(event('POST', '/keys', { body: { alias: 'acme' } }), context);

    const { key, keyId } = JSON.parse(String(result.body)) as { key: string; keyId: string };
    expect(auditLines()).toHaveLength(1);
    const [, entry] = auditLines()[0]!;
    expect(entry).toMatchObject({
      action: 'keys.create',
      target: keyId,
      versionAfter: 1,
      outcome: 'ok',
      caller: USER_ARN,
    });
    expect(entry).not.toHaveProperty('versionBefore');
    expect(JSON.stringify(entry)).not.toContain(key);
    expect(JSON.stringify(entry)).not.toContain(key.slice(3, 20));
  });

  it('names an import by its hash, even when the import is refused', async () => {
    const imported = 'my-own-imported-key-0001';

    await handler()(event('POST', '/keys', { body: { key: imported, quotaMax: 'many' } }), context);

    const [, entry] = auditLines()[0]!;
    expect(entry).toMatchObject({ action: 'keys.create', target: keyIdOf(imported), outcome: 'invalid_fields', status: 400 });
    expect(JSON.stringify(entry)).not.toContain(imported);
  });
});
