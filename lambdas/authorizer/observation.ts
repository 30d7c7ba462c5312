import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isThrottlingError } from '../core/store/dynamo-client.ts';

/**
 * What one invocation has done so far, collected while it runs: the DynamoDB requests it
 * sent and how they ended, and the key id its decision is about. Kept in an
 * `AsyncLocalStorage`, so that invocations running at once in one process (the local
 * gateway, the tests) never count each other's requests.
 */
export interface Observation {
  dynamodbRequests: number;
  conditionalCheckFailures: number;
  throttles: number;
  /** Errors DynamoDB calls threw (by identity), to tell a DynamoDB fault from others. */
  readonly dynamodbErrors: unknown[];
  /** The key id of the request's identity, once known. */
  keyId?: string;
}

const current = new AsyncLocalStorage<Observation>();

/** Runs `fn` with a fresh observation, which `fn` and everything it awaits add to. */
export function observe<T>(fn: (observation: Observation) => Promise<T>): Promise<T> {
  const observation: Observation = { dynamodbRequests: 0, conditionalCheckFailures: 0, throttles: 0, dynamodbErrors: [] };
  return current.run(observation, () => fn(observation));
}

/** Records the key id of the current invocation's identity. */
export function noteKeyId(keyId: unknown): void {
  const observation = current.getStore();
  if (observation && typeof keyId === 'string' && keyId !== '') observation.keyId = keyId;
}

const MIDDLEWARE = 'gatepassObserveDynamoDB';

/**
 * Counts every DynamoDB request `client` sends into the current invocation's observation:
 * a middleware in the `finalizeRequest` step, below the SDK's retries, so each attempt is
 * one request (DynamoDB bills each). One per middleware stack (document clients made from one
 * client share its stack), whatever the number of handlers built on it or copies of this
 * module loaded (a test's fresh import): each adds it under one name with `override`, which
 * replaces the one there (cheaper than asking the stack with `identify()`, which sorts it).
 * A client without a middleware stack (a test double) is left alone.
 */
export function countDynamoDBRequests(client: DynamoDBDocumentClient): void {
  const stack = (client as Partial<DynamoDBDocumentClient>).middlewareStack;
  if (stack === undefined) return;
  stack.add(
    (next) => async (args) => {
      const observation = current.getStore();
      if (observation) observation.dynamodbRequests++;
      try {
        return await next(args);
      } catch (error) {
        if (observation) {
          const name = (error as { name?: string } | null)?.name ?? '';
          if (name === 'ConditionalCheckFailedException') observation.conditionalCheckFailures++;
          if (isThrottlingError(error)) observation.throttles++;
          observation.dynamodbErrors.push(error);
        }
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: MIDDLEWARE, override: true },
  );
}
