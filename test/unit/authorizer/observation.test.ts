import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { countDynamoDBRequests, observe } from '../../../lambdas/authorizer/observation.ts';

/** A DynamoDB client whose every request is answered `{}` (no item) from memory. */
function clientAnsweringEmpty(): DynamoDBClient {
  return new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://dynamodb.memory.invalid',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: {
      async handle() {
        const body = Buffer.from('{}');
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(body.length) },
            body: Readable.from([body]),
          },
        };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    },
  });
}

describe('countDynamoDBRequests', () => {
  it('counts a request once when several document clients share one client, each counted', async () => {
    const base = clientAnsweringEmpty();
    const first = DynamoDBDocumentClient.from(base);
    const second = DynamoDBDocumentClient.from(base);

    countDynamoDBRequests(first);
    countDynamoDBRequests(second);
    countDynamoDBRequests(first);
    const requests = await observe(async (observation) => {
      await second.send(new GetCommand({ TableName: 'sessions', Key: { pk: 'key#a' } }));
      return observation.dynamodbRequests;
    });

    expect(requests).toBe(1);
  });

  it('counts the requests of another client apart', async () => {
    const counted = DynamoDBDocumentClient.from(clientAnsweringEmpty());
    const other = DynamoDBDocumentClient.from(clientAnsweringEmpty());
    countDynamoDBRequests(counted);
    countDynamoDBRequests(other);

    const requests = await observe(async (observation) => {
      await counted.send(new GetCommand({ TableName: 'sessions', Key: { pk: 'key#a' } }));
      await other.send(new GetCommand({ TableName: 'sessions', Key: { pk: 'key#b' } }));
      return observation.dynamodbRequests;
    });

    expect(requests).toBe(2);
  });
});
