/**
 * Helpers for tests that need DynamoDB: the endpoint started by the global setup
 * (`test/setup/dynamodb-global.ts`) and a fresh, uniquely named table per test file.
 */
import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { DeleteTableCommand, DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand as DocScanCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { DYNAMODB_TIMEOUTS, FixedDelayRetryStrategy } from '../../lambdas/core/store/dynamo-client.ts';
import { createDynamoClient, ensureTable } from '../../local/table.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** DynamoDB endpoint for this test run (DynamoDB Local, or `DYNAMODB_ENDPOINT`). */
    dynamoEndpoint: string;
  }
}

/** A table of its own for one test file. */
export interface TestTable {
  readonly tableName: string;
  /** Plain client on the test endpoint. */
  readonly client: DynamoDBClient;
  /** Document client over `client` (default marshalling options). */
  readonly doc: DynamoDBDocumentClient;
  readonly endpoint: string;
  /** Deletes the table and closes the clients (matters only on a shared, persistent endpoint). */
  drop(): Promise<void>;
}

/**
 * A client as the Lambdas make it (their attempts and retry delay, so a throttle or a lost answer is met as in production),
 * on DynamoDB Local or on `endpoint` (a proxy of `wire-proxy.ts` in front of it). With `sockets`, also the Lambdas'
 * connection and request timeouts, on a pool of that many keep-alive sockets (the Lambdas' has 50).
 */
export function lambdaClient(endpoint: string = dynamoEndpoint(), options: { readonly sockets?: number } = {}): DynamoDBClient {
  const { maxAttempts, retryDelayMs, connectionTimeoutMs, requestTimeoutMs } = DYNAMODB_TIMEOUTS;
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts,
    retryStrategy: new FixedDelayRetryStrategy(maxAttempts, retryDelayMs),
    ...(options.sockets === undefined
      ? {}
      : {
          requestHandler: {
            connectionTimeout: connectionTimeoutMs,
            requestTimeout: requestTimeoutMs,
            throwOnRequestTimeout: true,
            httpAgent: new Agent({ keepAlive: true, maxSockets: options.sockets }),
          },
        }),
  });
}

/** The DynamoDB endpoint provided by the global setup. */
export function dynamoEndpoint(): string {
  const endpoint = inject('dynamoEndpoint');
  if (!endpoint) {
    throw new Error('no DynamoDB endpoint: is test/setup/dynamodb-global.ts listed in globalSetup?');
  }
  return endpoint;
}

let sharedClient: DynamoDBClient | undefined;

/** One client per test worker for the helpers below that are not given one. */
function defaultClient(): DynamoDBClient {
  sharedClient ??= createDynamoClient(dynamoEndpoint());
  return sharedClient;
}

/**
 * Creates a gatepass-shaped table named `<prefix>-<uuid>`, so test files never share data.
 *
 * @example
 * const { tableName, doc } = await createTestTable('quota');
 */
export async function createTestTable(prefix = 'gatepass-test'): Promise<TestTable> {
  const endpoint = dynamoEndpoint();
  const tableName = `${prefix}-${randomUUID()}`;
  const client = createDynamoClient(endpoint);
  await ensureTable(client, tableName);
  const doc = DynamoDBDocumentClient.from(client);
  return {
    tableName,
    client,
    doc,
    endpoint,
    async drop() {
      try {
        await client.send(new DeleteTableCommand({ TableName: tableName }));
      } finally {
        doc.destroy();
        client.destroy();
      }
    },
  };
}

/** Number of items in the table (a paginated `Scan` with `Select: COUNT`). */
export async function countItems(tableName: string, client: DynamoDBClient = defaultClient()): Promise<number> {
  let count = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, Select: 'COUNT', ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}

/** Every item in the table, unmarshalled (a paginated, consistent `Scan`). */
export async function scanAll(tableName: string, client: DynamoDBClient = defaultClient()): Promise<Record<string, unknown>[]> {
  const doc = DynamoDBDocumentClient.from(client);
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new DocScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
