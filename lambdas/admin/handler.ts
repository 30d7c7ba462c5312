import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { parseConfig, type Config } from '../core/model/config.ts';
import { loadUrlPatternEngine } from '../core/model/url-pattern-engine.ts';
import { KeyService } from './key-service.ts';
import { PolicyStore } from '../core/policies/policy-store.ts';
import { SessionIndex } from './session-index.ts';
import { SessionStore } from '../core/store/store.ts';
import { createDocumentClient } from '../core/store/dynamo-client.ts';
import { UsageReader } from '../core/usage/usage-reader.ts';
import { audited } from './audit.ts';
import { errorResult, HttpError, type HttpResult } from './http.ts';
import { policyRoutes } from './policy-routes.ts';
import { match, routes, toHttpError, type Route } from './routes.ts';

export interface AdminOptions {
  /** The config; a string is parsed and validated like `GATEPASS_CONFIG`. */
  readonly config: Config | string | undefined;
  /** @default a DynamoDB document client for the environment */
  readonly client?: DynamoDBDocumentClient;
  /** @default a Powertools logger, service `gatepass-admin` */
  readonly logger?: Logger;
  /**
   * The audit lines' caller for a request that carries no IAM principal (a Function URL
   * request always does): `local` for the local admin server.
   * @default 'unknown' (a direct Lambda invoke, whose caller CloudTrail records)
   */
  readonly caller?: string;
}

export type AdminHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResult>;

/**
 * Builds the admin handler (HTTP API payload 2.0, as a Function URL sends it). Errors
 * answer `{"error": {code, message, details?}}`; faults answer 500 without details. Every
 * write logs one `admin audit` line (`audit.ts`).
 */
export function createAdminHandler(options: AdminOptions): AdminHandler {
  const logger = options.logger ?? new Logger({ serviceName: 'gatepass-admin' });
  let table: Route[];
  try {
    const config = typeof options.config === 'object' ? options.config : parseConfig(options.config);
    const client = options.client ?? createDocumentClient();
    const store = new SessionStore({
      client,
      tableName: config.tableName,
      retentionSeconds: config.sessionRetentionSeconds,
    });
    const policies = new PolicyStore({ client, tableName: config.tableName, cacheSeconds: 0 });
    const index = new SessionIndex({ client, tableName: config.tableName });
    const keys = new KeyService(store, undefined, { policies, index, resultsCached: config.resultsCacheTtl > 0 });
    const usage = new UsageReader({ client, tableName: config.tableName });
    table = audited([...routes(keys, usage), ...policyRoutes(policies)], {
      write: (entry) => logger.info('admin audit', { ...entry }),
      ...(options.caller === undefined ? {} : { caller: options.caller }),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return middy(async (): Promise<HttpResult> => {
      logger.error('admin misconfigured', { error: message });
      return errorResult(new HttpError(500, 'misconfigured', 'the admin function is misconfigured'));
    }) as unknown as AdminHandler;
  }

  return middy(async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    await loadUrlPatternEngine(); // bodies, stored items and explain check or match URL patterns
    const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
    const path = event.rawPath ?? event.requestContext?.http?.path ?? '/';
    try {
      const { handle, params } = match(table, method, path);
      return await handle(event, params);
    } catch (error) {
      const known = toHttpError(error);
      if (known) return errorResult(known);
      logger.error('admin request failed', { method, path, error: error instanceof Error ? error.message : String(error) });
      return errorResult(new HttpError(500, 'internal_error', 'internal error'));
    }
  }).use(injectLambdaContext(logger, { logEvent: false })) as unknown as AdminHandler;
}

/** The Lambda entry point: config from `GATEPASS_CONFIG`, validated at cold start. */
export const handler = createAdminHandler({ config: process.env.GATEPASS_CONFIG });
