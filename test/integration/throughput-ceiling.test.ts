import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../local/table.ts';
import { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamo.ts';

const W = 10;

/**
 * The simulated per-item ceiling on real DynamoDB Local: it throttles one hot item while
 * other items keep their own W, throttled writes never reach the table, and the SDK's retry
 * strategy treats its answer as DynamoDB's throttling (retried, each attempt charged).
 */
describe('the per-item throughput ceiling on DynamoDB Local', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('ceiling');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** A document client with no SDK retries, behind `ceiling`. */
  function clientBehind(ceiling: ThroughputCeiling, maxAttempts = 1): DynamoDBDocumentClient {
    const raw =
      maxAttempts === 1 ? new DynamoDBClient({ endpoint: dynamoEndpoint(), maxAttempts: 1 }) : createDynamoClient(dynamoEndpoint()); // the standard retry strategy, 3 attempts
    const doc = DynamoDBDocumentClient.from(raw);
    ceiling.install(doc);
    return doc;
  }

  const increment = (doc: DynamoDBDocumentClient, pk: string) =>
    doc
      .send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk },
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      )
      .then(
        () => 'ok' as const,
        (error: unknown) => {
          if (error instanceof ProvisionedThroughputExceededException) return 'throttled' as const;
          throw error;
        },
      );
  const stored = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item?.n;

  it('throttles one key driven past W, while two other keys each get their W', async () => {
    const now = { ms: 0 };
    const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W, clock: () => now.ms });
    const doc = clientBehind(ceiling);
    const drive = async (pk: string, n: number) => {
      const answers = await Promise.all(Array.from({ length: n }, () => increment(doc, pk)));
      return answers.filter((a) => a === 'ok').length;
    };

    const [hot, cold1, cold2] = await Promise.all([drive('hot', 3 * W), drive('cold-1', W), drive('cold-2', W)]);

    expect([hot, cold1, cold2]).toEqual([W, W, W]);
    expect(ceiling.stats.throttled).toBe(2 * W);
    // Throttled writes never reached the table.
    expect([await stored('hot'), await stored('cold-1'), await stored('cold-2')]).toEqual([W, W, W]);

    // Half a second later the hot key has half of W again.
    now.ms = 500;
    expect(await drive('hot', W)).toBe(W / 2);
    doc.destroy();
  });

  it('on a real clock, a hammered key gets about W a second and never more than its bucket allows', async () => {
    const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W });
    const doc = clientBehind(ceiling);
    const started = performance.now();
    const deadline = started + 1_500;
    const counts = { hot: 0, calm: 0, calmSent: 0 };
    const hammer = async () => {
      while (performance.now() < deadline) if ((await increment(doc, 'hammered')) === 'ok') counts.hot++;
    };
    // The calm key sends W a second, paced: within its bucket, never throttled.
    const calm = async () => {
      while (performance.now() < deadline) {
        counts.calmSent++;
        if ((await increment(doc, 'calm')) === 'ok') counts.calm++;
        await new Promise((resolve) => setTimeout(resolve, 1000 / W));
      }
    };

    await Promise.all([...Array.from({ length: 8 }, hammer), calm()]);
    const seconds = (performance.now() - started) / 1000;

    expect(ceiling.stats.throttled).toBeGreaterThan(0);
    expect(counts.hot).toBeGreaterThanOrEqual(W); // the burst at least
    expect(counts.hot).toBeLessThanOrEqual(Math.ceil(W * (1 + seconds))); // the burst plus the refill, never more
    expect(await stored('hammered')).toBe(counts.hot);
    expect(counts.calm).toBe(counts.calmSent);
    expect(await stored('calm')).toBe(counts.calm);
    doc.destroy();
  });

  it('is retried by the SDK as a throttling error, and every attempt is charged', async () => {
    const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W, clock: () => 0 });
    const doc = clientBehind(ceiling, 3);
    for (let i = 0; i < W; i++) expect(await increment(doc, 'retried')).toBe('ok');

    const error = await doc
      .send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: 'retried' },
          UpdateExpression: 'SET x = :x',
          ExpressionAttributeValues: { ':x': 1 },
        }),
      )
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect((error as ProvisionedThroughputExceededException).$metadata.attempts).toBe(3);
    expect(ceiling.stats.throttled).toBe(3);
    doc.destroy();
  });
});
