import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { GatepassConfigProps } from './gatepass-config.ts';

/** Properties of `GatepassAuthorizer`. */
export interface GatepassAuthorizerProps extends GatepassConfigProps {
  /** The session table (usually `SessionTable.table`). */
  readonly table: dynamodb.ITable;
  /**
   * Layers with plugins (`/opt/gatepass/plugins/<name>.mjs`), named in `plugins`. Prefer
   * `GatepassAuthorizer.addPlugin`, which attaches a `PluginLayer` and names it.
   *
   * @default - no layers
   */
  readonly layers?: readonly lambda.ILayerVersion[];
  /**
   * Lambda timeout. API Gateway gives the whole request (authorizer and backend) 29 s; the
   * authorizer does a few single-digit-millisecond DynamoDB calls plus hooks, so a short
   * timeout fails closed quickly instead of holding the request. Must exceed `hookTimeoutMs`.
   *
   * @default Duration.seconds(3)
   */
  readonly timeout?: Duration;
  /**
   * Lambda memory (also buys CPU, which JWT verification uses).
   *
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Active AWS X-Ray tracing of the function (its role may then write traces).
   *
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Reserved concurrency: caps the authorizer's concurrent executions (and so its share of
   * the account's DynamoDB and Lambda capacity). Requests beyond it are throttled, which API
   * Gateway answers with 500 — never Allow.
   *
   * @default - no reservation: the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * Retention of the function's log group.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Removal policy of the function's log group.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * How long API Gateway caches a decision. Off by default: a cached decision is the stale
   * state that gatepass exists to avoid, and it makes quotas inexact.
   *
   * @default Duration.seconds(0)
   */
  readonly resultsCacheTtl?: Duration;
  /**
   * Identity sources (`apigateway.IdentitySource.header(…)` etc.; HTTP APIs get the same
   * sources in their own syntax). API Gateway answers 401 without calling the Lambda when one
   * is missing — and uses them as the cache key. With caching off none are set, so the Lambda
   * sees every request: `pre` and `auth` hooks run, a JWT or key in another place works, and
   * the 401 for a missing credential comes from the Lambda with the same body.
   *
   * @default - none when `resultsCacheTtl` is 0; otherwise the API key header
   */
  readonly identitySources?: readonly string[];
}

/** Options of `GatepassAuthorizer.attachToRestApiId`. */
export interface AttachToRestApiOptions {
  /**
   * Name of the authorizer in the API.
   *
   * @default - a name unique to this construct and API
   */
  readonly authorizerName?: string;
}

/** The authorizer created in an existing REST API by `GatepassAuthorizer.attachToRestApiId`. */
export interface RestApiAttachment extends apigateway.IAuthorizer {
  /** The REST API's id. */
  readonly restApiId: string;
  /** The authorizer's id in that API: set it on the methods to guard. */
  readonly authorizerId: string;
  /** `CUSTOM`, the authorization type of methods that use it. */
  readonly authorizationType: apigateway.AuthorizationType;
  /** The `AWS::ApiGateway::Authorizer`. */
  readonly authorizer: apigateway.CfnAuthorizer;
  /** Lets API Gateway invoke the function, from this authorizer only. */
  readonly permission: lambda.CfnPermission;
}
