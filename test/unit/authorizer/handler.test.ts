import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpApiEvent, LAMBDA_CONTEXT, restRequestEvent, restTokenEvent } from '../../support/authorizer-events.ts';
import type { AuthorizerEvent } from '../../../lambdas/authorizer/events.ts';
import { createAuthorizerHandler, type AuthorizerOptions } from '../../../lambdas/authorizer/handler.ts';
import { ConfigSchema, type ConfigInput } from '../../../lambdas/core/model/config.ts';
import { createDocumentClient } from '../../../lambdas/core/store/dynamo-client.ts';

/**
 * The authorizer handler where no DynamoDB is needed: a missing credential (nothing is
 * read) and faults, which fail closed. Allows and denials on DynamoDB Local are in
 * test/integration/authorizer-handler.test.ts.
 */

async function rejection(promise: Promise<unknown>): Promise<Error | undefined> {
  return promise.then(
    () => undefined,
    (reason: unknown) => reason as Error,
  );
}

const KEY = 'gp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh2';

describe('the authorizer handler without DynamoDB', () => {
  const logger = new Logger({ serviceName: 'gatepass-authorizer-test', logLevel: 'SILENT' });
  /** A DynamoDB that counts connections and closes each at once: any read fails. */
  let unreachable: string;
  let reads = 0;
  const server = createServer((socket) => {
    reads += 1;
    socket.destroy();
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    unreachable = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function handlerWith(config: ConfigInput | string | undefined, extra: Partial<AuthorizerOptions> = {}) {
    const resolved = typeof config === 'object' ? ConfigSchema.parse(config) : config;
    const client = createDocumentClient({
      endpoint: unreachable,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    return createAuthorizerHandler({ config: resolved, client, logger, ...extra });
  }

  describe('missing credential', () => {
    const cases: [string, () => AuthorizerEvent][] = [
      ['REST REQUEST', () => restRequestEvent({})],
      ['REST TOKEN', () => restTokenEvent('')],
    ];

    it.each(cases)('rejects a %s event with exactly Error("Unauthorized"), reading nothing', async (_name, event) => {
      const before = reads;

      const error = await rejection(handlerWith({})(event(), LAMBDA_CONTEXT));

      expect(error).toBeInstanceOf(Error);
      expect(error?.message).toBe('Unauthorized');
      expect(reads).toBe(before);
    });

    it('answers an HTTP API with isAuthorized false (403), the answer AWS documents for a Lambda authorizer', async () => {
      const result = await handlerWith({ httpApiResponse: 'simple' })(httpApiEvent({}), LAMBDA_CONTEXT);

      expect(result).toMatchObject({ isAuthorized: false, context: { reason: 'missing_credential' } });
    });
  });

  describe('faults fail closed', () => {
    it('rejects with an error that is not Unauthorized when DynamoDB drops the connection', async () => {
      const error = await rejection(handlerWith({})(restRequestEvent({ Authorization: KEY }), LAMBDA_CONTEXT));

      expect(error?.message).toBe('Authorizer failure');
      expect(reads).toBeGreaterThan(0);
    });

    it('rejects a method ARN that is not an execute-api ARN', async () => {
      const error = await rejection(handlerWith({})(restRequestEvent({ Authorization: KEY }, 'not-an-arn'), LAMBDA_CONTEXT));

      expect(error?.message).toBe('Authorizer failure');
    });

    it('rejects every invocation, of every event shape, when the config string is invalid', async () => {
      const handler = handlerWith('{"hookTimeoutMs": 0, "apiKeyHeader": "bad header"}');

      for (const event of [restRequestEvent({ Authorization: KEY }), restTokenEvent(KEY), httpApiEvent({ authorization: KEY })]) {
        const error = await rejection(handler(event, LAMBDA_CONTEXT));
        expect(error).toBeInstanceOf(Error);
        expect(error?.message).not.toBe('Unauthorized');
      }
    });

    it('rejects every invocation when the config is missing or not JSON', async () => {
      await expect(handlerWith(undefined)(restRequestEvent({ Authorization: KEY }), LAMBDA_CONTEXT)).rejects.toThrow(
        'Authorizer misconfigured',
      );
      await expect(handlerWith('not json')(restRequestEvent({ Authorization: KEY }), LAMBDA_CONTEXT)).rejects.toThrow(
        'Authorizer misconfigured',
      );
    });
  });
});
