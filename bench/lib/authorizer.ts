/**
 * What the measurements share: the authorizer built the way the Lambda builds it, the
 * REST REQUEST event API Gateway sends, and the plugins and policies they run with.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayAuthorizerResult, Context } from 'aws-lambda';
import { createAuthorizerHandler, type AuthorizerHandler } from '../../lambdas/authorizer/handler.ts';
import { parseConfig, type Config, type ConfigInput } from '../../lambdas/core/model/config.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { PolicyFieldsSchema, type PolicyFields } from '../../lambdas/core/policies/policy.ts';
import { buildRequestAuthorizerEvent } from '../../local/authorizer-event.ts';
import { lambdaContext } from '../../local/lambda-context.ts';

/** The HMAC secret of the HS256 runs (a bench secret, not a real one). */
export const BENCH_JWT_SECRET = 'gatepass-bench-secret-0123456789abcdef';
export const BENCH_ISSUER = 'https://issuer.bench.invalid/';

/** A policy with no limits, and one with a rate limit and a quota (both counted per request). */
export const POLICIES: Record<'unlimited' | 'limited', PolicyFields> = {
  unlimited: PolicyFieldsSchema.parse({ rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 }),
  limited: PolicyFieldsSchema.parse({ rate: 100_000, per: 1, quotaMax: 100_000_000, quotaRenewalRate: 0 }),
};

/** Session fields of an API key with a rate limit and a quota. */
export const LIMITED_KEY = { rate: 100_000, per: 1, quotaMax: 100_000_000 } as const;

/**
 * The renew-on-expiry plugin (examples/plugins/renew-on-expiry.ts), inline: renews a session that expires within
 * 5 s for another 60 s.
 */
export const renewOnExpiry: GatepassPlugin = {
  name: 'renew-on-expiry',
  async postAuth(ctx) {
    if (ctx.session.expires > 0 && ctx.session.expires <= ctx.now + 5) {
      await ctx.updateSession({ expires: ctx.now + 60 });
    }
  },
};

export function benchConfig(tableName: string, overrides: Partial<ConfigInput> = {}): Config {
  return parseConfig(JSON.stringify({ tableName, ...overrides }));
}

/** A logger that prints nothing: the measurements time the work, not the terminal. */
export function silentLogger(serviceName = 'gatepass-authorizer'): Logger {
  return new Logger({ serviceName, logLevel: 'SILENT' });
}

export interface BenchAuthorizer {
  readonly handler: AuthorizerHandler;
  /** Authorizes `GET /pets` with this Authorization header value; the answer's effect. */
  authorize(authorization: string): Promise<'Allow' | 'Deny'>;
}

export function benchAuthorizer(options: {
  config: Config;
  client: DynamoDBDocumentClient;
  plugins?: readonly GatepassPlugin[];
  clock?: () => number;
}): BenchAuthorizer {
  const handler = createAuthorizerHandler({
    config: options.config,
    client: options.client,
    logger: silentLogger(),
    plugins: options.plugins ?? [],
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const context = invocationContext();
  return {
    handler,
    async authorize(authorization) {
      const result = (await handler(requestEvent(authorization), context)) as APIGatewayAuthorizerResult;
      const statement = result.policyDocument.Statement[0] as { Effect: string };
      return statement.Effect === 'Allow' ? 'Allow' : 'Deny';
    },
  };
}

/** The REST REQUEST event for `GET /pets` on API `local`, stage `dev`. */
export function requestEvent(authorization: string) {
  return buildRequestAuthorizerEvent({
    method: 'GET',
    path: '/pets',
    headers: { Authorization: authorization, 'User-Agent': 'gatepass-bench' },
    query: new URLSearchParams(),
    sourceIp: '127.0.0.1',
    apiId: 'local',
    stage: 'dev',
  });
}

/**
 * A Lambda context whose remaining time never runs out: a context made once and reused
 * across thousands of calls would otherwise reach its deadline (the admin API's middy aborts
 * an invocation then), while every real invocation gets a fresh one.
 */
export function invocationContext(timeoutMs = 10_000): Context {
  return { ...lambdaContext('gatepass-authorizer', timeoutMs), getRemainingTimeInMillis: () => timeoutMs };
}
