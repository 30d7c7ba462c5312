import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Config } from '../core/model/config.ts';
import { loadConfig, parsePlainConfig } from '../core/model/load-config.ts';
import { createDocumentClient } from '../core/store/dynamo-client.ts';
import { Pipeline } from '../core/request/pipeline.ts';
import type { GatepassPlugin } from '../core/plugins/plugin.ts';
import { PolicyStore } from '../core/policies/policy-store.ts';
import { SessionStore } from '../core/store/store.ts';
import { DecisionObserver, noteDecision, type DecisionListener } from './decision-observer.ts';
import { toAuthorizerResult, toAuthRequest, UnauthorizedError, type AuthorizerEvent, type AuthorizerResult } from './events.ts';
import { createMetrics } from './metrics.ts';
import { countDynamoDBRequests } from './observation.ts';

export interface AuthorizerOptions {
  /** The config; a string is parsed and validated like `GATEPASS_CONFIG`. */
  readonly config: Config | string | undefined;
  /** @default a DynamoDB document client for the environment's region and endpoint */
  readonly client?: DynamoDBDocumentClient;
  /** @default a Powertools logger, service `gatepass-authorizer` */
  readonly logger?: Logger;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
  /** Where bare plugin names are loaded from. @default '/opt/gatepass/plugins' (the layers) */
  readonly pluginDir?: string;
  /** Plugins already loaded (tests); replaces loading the config's `plugins`. */
  readonly plugins?: readonly GatepassPlugin[];
  /**
   * Where each request's metric line goes (embedded metric format, on stdout); `false`: no
   * metrics (the local gateway prints an access log instead).
   * @default Powertools Metrics, namespace `Gatepass`, `service` = the function's name
   */
  readonly metrics?: Metrics | false;
  /**
   * Called with each request's record once it is answered, and awaited (the local gateway:
   * its access log and usage counters). What it throws is logged; it never changes an answer.
   * @default none
   */
  readonly onDecision?: DecisionListener;
}

export type AuthorizerHandler = (event: AuthorizerEvent, context: Context) => Promise<AuthorizerResult>;

interface Ready {
  readonly config: Config;
  readonly pipeline: Pipeline;
}

/**
 * Builds an authorizer handler. The config is validated, and the DynamoDB client, the
 * JWKS set, the policy cache and the plugins are created once — at cold start, before
 * the first event. What only some requests need is imported when first needed: zod (a
 * config with `jwt`, policies, plugin writes), jose (JWTs), re2js (URL rights), the plugin
 * loader (a config that names plugins) and the code that runs hooks (the first request
 * with a hook to run). A bad config or a plugin that fails to load does not throw here: it
 * fails every request closed (500, never Allow), with one clear log line each time.
 */
export function createAuthorizerHandler(options: AuthorizerOptions): AuthorizerHandler {
  const logger = options.logger ?? new Logger({ serviceName: 'gatepass-authorizer' });
  const ready = build(options, logger);
  ready.catch(() => undefined); // reported on each request below
  const observer = new DecisionObserver({
    metrics: options.metrics ?? createMetrics(),
    clock: options.clock ?? Date.now,
    logger,
    ...(options.onDecision ? { onDecision: options.onDecision } : {}),
  });

  // What Powertools' injectLambdaContext middleware does, without middy: middy's stream
  // support loads Node modules (node:stream/web, node:stream/promises) that a cold start
  // would parse for nothing. The Lambda's own timeout still ends a handler that overruns.
  return async (event, context) => {
    logger.refreshSampleRateCalculation();
    logger.addContext(context);
    try {
      return await observer.observe(event, () => answer(event));
    } finally {
      logger.clearBuffer();
    }
  };

  async function answer(event: AuthorizerEvent): Promise<AuthorizerResult> {
    let built: Ready;
    try {
      built = await ready;
    } catch (error) {
      logger.error('authorizer misconfigured: failing closed', { error: describe(error) });
      throw new Error('Authorizer misconfigured', { cause: error });
    }
    try {
      const decision = await built.pipeline.authorize(toAuthRequest(event, built.config));
      noteDecision(decision);
      return toAuthorizerResult(decision, event, built.config);
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error;
      // Fail closed: any fault becomes a 500 (AUTHORIZER_FAILURE), never an Allow.
      logger.error('authorization failed: failing closed', { error: describe(error) });
      throw new Error('Authorizer failure', { cause: error });
    }
  }
}

async function build(options: AuthorizerOptions, logger: Logger): Promise<Ready> {
  // A plain config is checked at once; any other waits for zod (load-config.ts).
  const config =
    typeof options.config === 'object' ? options.config : (parsePlainConfig(options.config) ?? (await loadConfig(options.config)));
  const client = options.client ?? createDocumentClient();
  countDynamoDBRequests(client);
  const clock = options.clock ?? Date.now;
  const store = new SessionStore({ client, tableName: config.tableName, retentionSeconds: config.sessionRetentionSeconds });
  const policies = new PolicyStore({ client, tableName: config.tableName, cacheSeconds: config.policyCacheSeconds, clock });
  // jose and the JWT code are imported only when JWTs are configured.
  const jwt = config.jwt ? (await import('../core/jwt/jwt.ts')).createJwtVerifier(config.jwt, { clock, log: logger }) : undefined;
  // The plugin loader is imported only when the config names plugins.
  const plugins =
    options.plugins ??
    (config.plugins.length > 0
      ? await (await import('../core/plugins/plugin-loader.ts')).loadPlugins(config.plugins, options.pluginDir)
      : []);
  if (plugins.length > 0) logger.info('plugins loaded', { plugins: plugins.map((p) => p.name) });
  const pipeline = new Pipeline({ config, store, log: logger, clock, plugins, policies, ...(jwt ? { jwt } : {}) });
  return { config, pipeline };
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, code: (error as { code?: string }).code };
  return { message: String(error) };
}

/** The Lambda entry point: config from `GATEPASS_CONFIG`, validated once per cold start. */
export const handler = createAuthorizerHandler({ config: process.env.GATEPASS_CONFIG });
