import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import type { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { lambdaClient } from './dynamo.ts';
import { requestWith } from './pipeline.ts';

/**
 * Tests of hot keys: an authorizer instance's DynamoDB client on DynamoDB Local (the Lambda's
 * retries and delay, so throttling is answered as in production) behind a simulated per-item
 * ceiling, and a load that drives instances the way clients hammer one key.
 */

/** A client as the authorizer Lambda makes it, on DynamoDB Local, behind `ceiling`. */
export function authorizerClient(ceiling: ThroughputCeiling): DynamoDBClient {
  const client = lambdaClient();
  ceiling.install(client);
  return client;
}

/** `workers` loops per pipeline, each authorizing `key` one request after another for `ms`: every answer or fault. */
export async function drive(pipelines: readonly Pipeline[], key: string, ms: number, workers = 8): Promise<(Decision | Error)[]> {
  const until = Date.now() + ms;
  const answers: (Decision | Error)[] = [];
  await Promise.all(
    pipelines.flatMap((pipeline) =>
      Array.from({ length: workers }, async () => {
        while (Date.now() < until) answers.push(await pipeline.authorize(requestWith(key)).catch((error: Error) => error));
      }),
    ),
  );
  return answers;
}

/** Spreads a key at once: its session item names `shards` counter items (as the first throttled write would). */
export async function spreadKey(doc: DynamoDBDocumentClient, tableName: string, pk: string, shards: number): Promise<void> {
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk },
      UpdateExpression: 'SET shards = :s',
      ExpressionAttributeValues: { ':s': shards },
    }),
  );
}
