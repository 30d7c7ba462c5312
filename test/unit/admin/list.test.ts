import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand, ScanCommand as DocScanCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminHandler } from '../../../lambdas/admin/handler.ts';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import { encodeCursor } from '../../../lambdas/admin/session-index.ts';
import { lambdaContext } from '../../../local/lambda-context.ts';

const TABLE = 'list-test';
const ddb = mockClient(DynamoDBDocumentClient);
const raw = mockClient(DynamoDBClient);

const pk = (c: string) => `key#${c.repeat(64)}`;
const item = (c: string, extra: Record<string, unknown> = {}) => ({
  pk: pk(c),
  kind: 'key',
  keyId: c.repeat(64),
  expires: 0,
  quotaMax: -1,
  quotaRemaining: -1,
  quotaRenewalRate: 0,
  quotaRenews: 0,
  rate: 0,
  per: 0,
  accessRights: {},
  applyPolicies: [],
  metaData: {},
  tags: [],
  isInactive: false,
  createdAt: 1,
  updatedAt: 1,
  version: 1,
  rateRemaining: 3,
  ...extra,
});

function get(query: Record<string, string>): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/keys',
    rawQueryString: new URLSearchParams(query).toString(),
    headers: {},
    queryStringParameters: query,
    requestContext: {
      accountId: '1',
      apiId: 'x',
      domainName: 'x',
      domainPrefix: 'x',
      http: { method: 'GET', path: '/keys', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    isBase64Encoded: false,
  };
}

async function list(query: Record<string, string>) {
  const handler = createAdminHandler({
    config: ConfigSchema.parse({ tableName: TABLE }),
    client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    logger: new Logger({ serviceName: 'list-test', logLevel: 'SILENT' }),
  });
  const result = await handler(get(query), lambdaContext('gatepass-admin'));
  return {
    status: result.statusCode,
    body: JSON.parse(String(result.body)) as { items: Array<Record<string, unknown>>; cursor: string | null },
  };
}

describe('GET /keys', () => {
  afterEach(() => {
    ddb.reset();
    raw.reset();
  });

  it('queries the keys-only kind index, then reads the items with one consistent BatchGetItem — never a scan', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: pk('a'), kind: 'key' },
        { pk: pk('b'), kind: 'key' },
      ],
      LastEvaluatedKey: { pk: pk('b'), kind: 'key' },
    });
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [item('b'), item('a')] } });

    const { status, body } = await list({ limit: '2' });

    expect(status).toBe(200);
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({ TableName: TABLE, IndexName: 'kind-index', Limit: 2 });
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems![TABLE]).toEqual({
      Keys: [{ pk: pk('a') }, { pk: pk('b') }],
      ConsistentRead: true,
    });
    expect(ddb.commandCalls(DocScanCommand)).toHaveLength(0);
    expect(raw.commandCalls(ScanCommand)).toHaveLength(0);
    expect(body.items.map((s) => s.keyId)).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
    expect(body.items[0]).not.toHaveProperty('pk');
    expect(body.items[0]).not.toHaveProperty('rateRemaining');
    expect(body.cursor).toBe(encodeCursor({ pk: pk('b'), kind: 'key' }));
  });

  it('looks an alias up in the alias index and drops items whose alias changed since the index saw them', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: pk('a'), alias: 'ci' },
        { pk: pk('b'), alias: 'ci' },
        { pk: pk('c'), alias: 'ci' },
      ],
    });
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [item('a', { alias: 'ci' }), item('b', { alias: 'renamed' })] } });

    const { body } = await list({ alias: 'ci' });

    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({ IndexName: 'alias-index', Limit: 25 });
    expect(body).toEqual({ items: [expect.objectContaining({ keyId: 'a'.repeat(64) })], cursor: null });
  });

  it('continues from a cursor, and retries keys DynamoDB left unprocessed', async () => {
    const cursor = encodeCursor({ pk: pk('a'), kind: 'key' });
    ddb.on(QueryCommand).resolves({ Items: [{ pk: pk('b'), kind: 'key' }] });
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [] }, UnprocessedKeys: { [TABLE]: { Keys: [{ pk: pk('b') }] } } })
      .resolvesOnce({ Responses: { [TABLE]: [item('b')] } });

    const { body } = await list({ cursor });

    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input.ExclusiveStartKey).toEqual({ pk: pk('a'), kind: 'key' });
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
    expect(body.items).toHaveLength(1);
  });

  it('sends nothing to DynamoDB for a bad query', async () => {
    const { status } = await list({ limit: '500' });

    expect(status).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });
});
