/**
 * Creates gatepass's table on a local (or any already running) DynamoDB, with the same
 * shape the CDK stack deploys: see `TABLE` in `lambdas/core/model/table.ts`.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { TABLE } from '../lambdas/core/model/table.ts';

const ACTIVE_POLL_MS = 100;
const ACTIVE_TIMEOUT_MS = 60_000;

/**
 * A DynamoDB client for local use: region `us-east-1`, dummy static credentials (DynamoDB
 * Local accepts any), and few retries so that a dead endpoint fails fast.
 *
 * @example
 * const client = createDynamoClient('http://127.0.0.1:8000');
 */
export function createDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
}

/**
 * Creates the gatepass table if it does not exist and waits until it is ACTIVE.
 *
 * Shape: partition key `pk` (S), on-demand billing, the sparse GSI `alias-index` on
 * `alias` (S, projection KEYS_ONLY), the GSI `kind-index` on `kind` + `pk` (KEYS_ONLY), and TTL on `ttl`. A table that already exists is left as
 * it is (it may be someone's real table behind `--dynamodb-endpoint`). Safe to call
 * concurrently: the loser of a creation race waits for the winner's table.
 *
 * @returns `'created'` if this call created it, `'exists'` otherwise
 * @example
 * await ensureTable(createDynamoClient(db.endpoint), DEFAULT_TABLE_NAME);
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<'created' | 'exists'> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.aliasIndex.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.kindIndex.partitionKey, AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: TABLE.partitionKey, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE.aliasIndex.name,
            KeySchema: [{ AttributeName: TABLE.aliasIndex.partitionKey, KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
          {
            IndexName: TABLE.kindIndex.name,
            KeySchema: [
              { AttributeName: TABLE.kindIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE.kindIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    await waitUntilActive(client, tableName);
    return 'exists';
  }
  await waitUntilActive(client, tableName);
  await enableTtl(client, tableName);
  return 'created';
}

/** Waits until the table and all its indexes are ACTIVE. */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  for (;;) {
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
      if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    } catch (error) {
      // A table being created by someone else may not be visible yet.
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(`DynamoDB table ${tableName} did not become ACTIVE within ${ACTIVE_TIMEOUT_MS / 1000} s`);
    }
    await sleep(ACTIVE_POLL_MS);
  }
}

/** Turns TTL on for the `ttl` attribute, unless it already is (enabling twice is an error). */
async function enableTtl(client: DynamoDBClient, tableName: string): Promise<void> {
  const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = TimeToLiveDescription?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
    }),
  );
}
