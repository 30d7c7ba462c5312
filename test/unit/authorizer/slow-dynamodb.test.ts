import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthorizerHandler } from '../../../lambdas/authorizer/handler.ts';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import { createDocumentClient, DYNAMODB_TIMEOUTS, dynamoCallBudgetMs } from '../../../lambdas/core/store/dynamo-client.ts';

/** A TCP server that accepts connections and never answers: a DynamoDB that hangs. */
async function blackHole(): Promise<{ endpoint: string; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const EVENT = {
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets',
  path: '/pets',
  httpMethod: 'GET',
  headers: { Authorization: 'gp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh2' },
  requestContext: { apiId: 'api1', stage: 'prod', identity: { sourceIp: '203.0.113.9' } },
} as unknown as APIGatewayRequestAuthorizerEvent;

const CONTEXT = { awsRequestId: 'r1', functionName: 'gatepass-authorizer', getRemainingTimeInMillis: () => 3000 } as unknown as Context;

/** Slack for timers and a busy machine on top of the computed bound. */
const SLACK_MS = 400;

describe('a DynamoDB that accepts connections and never answers', () => {
  let hole: Awaited<ReturnType<typeof blackHole>>;
  const client = () =>
    createDocumentClient({ endpoint: hole.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

  beforeAll(async () => {
    hole = await blackHole();
  });
  afterAll(() => hole.close());

  it('makes one DynamoDB call give up after its attempts, within the computed budget', async () => {
    const started = Date.now();

    const error = await client()
      .send(new GetCommand({ TableName: 't', Key: { pk: 'x' } }))
      .then(
        () => undefined,
        (reason: unknown) => reason as Error & { $metadata?: { attempts?: number } },
      );

    const elapsed = Date.now() - started;
    expect(error?.name).toBe('TimeoutError');
    expect(error?.$metadata?.attempts).toBe(DYNAMODB_TIMEOUTS.maxAttempts);
    expect(elapsed).toBeGreaterThanOrEqual(DYNAMODB_TIMEOUTS.maxAttempts * DYNAMODB_TIMEOUTS.requestTimeoutMs - 50);
    expect(elapsed).toBeLessThan(dynamoCallBudgetMs() + SLACK_MS);
  });

  it('fails the authorization closed (an error that is not Unauthorized) well inside the 3 s Lambda timeout', async () => {
    const logger = new Logger({ serviceName: 'slow-dynamodb-test', logLevel: 'SILENT' });
    const handler = createAuthorizerHandler({ config: ConfigSchema.parse({ policyCacheSeconds: 0 }), client: client(), logger });
    const started = Date.now();

    const error = await handler(EVENT, CONTEXT).then(
      () => undefined,
      (reason: unknown) => reason as Error,
    );

    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toBe('Authorizer failure');
    expect(hole.accepted()).toBeGreaterThan(0);
    // One DynamoDB call failed: the request ends there, never with an Allow.
    expect(elapsed).toBeLessThan(dynamoCallBudgetMs() + SLACK_MS);
    expect(elapsed).toBeLessThan(3000);
  });
});
