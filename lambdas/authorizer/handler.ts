import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { parseConfig, type Config } from '../core/config.ts';
import { createDocumentClient } from '../core/dynamo-client.ts';
import { Pipeline } from '../core/pipeline.ts';
import { SessionStore } from '../core/store.ts';
import { toAuthorizerResult, toAuthRequest, UnauthorizedError, type AuthorizerEvent, type AuthorizerResult } from './events.ts';

export interface AuthorizerOptions {
  /** The config; a string is parsed and validated like `GATEPASS_CONFIG`. */
  readonly config: Config | string | undefined;
  /** @default a DynamoDB document client for the environment's region and endpoint */
  readonly client?: DynamoDBDocumentClient;
  /** @default a Powertools logger, service `gatepass-authorizer` */
  readonly logger?: Logger;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
}

export type AuthorizerHandler = (event: AuthorizerEvent, context: Context) => Promise<AuthorizerResult>;

/**
 * Builds an authorizer handler: config validated, client and pipeline created once.
 * An invalid config does not throw here; it fails every request closed, with one clear
 * log line each time, so a bad deployment answers 500 and never Allow.
 */
export function createAuthorizerHandler(options: AuthorizerOptions): AuthorizerHandler {
  const logger = options.logger ?? new Logger({ serviceName: 'gatepass-authorizer' });
  let config: Config;
  let pipeline: Pipeline;
  try {
    config = typeof options.config === 'object' ? options.config : parseConfig(options.config);
    const client = options.client ?? createDocumentClient();
    const store = new SessionStore({ client, tableName: config.tableName, retentionSeconds: config.sessionRetentionSeconds });
    pipeline = new Pipeline({ config, store, log: logger, ...(options.clock ? { clock: options.clock } : {}) });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return middy(async () => {
      logger.error('authorizer misconfigured: failing closed', { error: message });
      throw new Error('Authorizer misconfigured');
    }) as unknown as AuthorizerHandler;
  }

  return middy(async (event: AuthorizerEvent): Promise<AuthorizerResult> => {
    try {
      const decision = await pipeline.authorize(toAuthRequest(event, config));
      return toAuthorizerResult(decision, event, config);
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error;
      // Fail closed: any fault becomes a 500 (AUTHORIZER_FAILURE), never an Allow.
      logger.error('authorization failed: failing closed', { error: describe(error) });
      throw new Error('Authorizer failure');
    }
  }).use(injectLambdaContext(logger)) as unknown as AuthorizerHandler;
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, code: (error as { code?: string }).code };
  return { message: String(error) };
}

/** The Lambda entry point: config from `GATEPASS_CONFIG`, validated once per cold start. */
export const handler = createAuthorizerHandler({ config: process.env.GATEPASS_CONFIG });
