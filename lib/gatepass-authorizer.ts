import * as path from 'node:path';
import { Annotations, Duration, Names, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ConfigSchema, validate, type JWT_ALGORITHMS, type Config, type ConfigInput } from '../lambdas/core/config.ts';

/** The repository root: Lambda entries, the lock file and esbuild are found from here, whatever the cwd. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

/**
 * esbuild options shared by gatepass's Lambdas: one minified ESM file (`index.mjs`) for
 * Node.js 22 with an external source map, built by the local esbuild (no Docker). The AWS
 * SDK v3 comes from the runtime. The banner gives CommonJS dependencies a `require` (ESM has
 * none); its import is aliased so it cannot clash with a bundled `createRequire`.
 */
export const GATEPASS_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner:
    "import { createRequire as __gatepassCreateRequire } from 'node:module'; const require = __gatepassCreateRequire(import.meta.url);",
  externalModules: ['@aws-sdk/*'],
};

/** A JWT signature algorithm gatepass accepts (`none` is not one). */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** JWT verification settings, passed to `GATEPASS_CONFIG.jwt` (SPEC §5, §7). */
export interface GatepassJwtConfig {
  /**
   * JWKS URL of the issuer. Exactly one of `jwksUrl`, `publicKeyPem` and `secret`.
   *
   * @default - none
   */
  readonly jwksUrl?: string;
  /**
   * PEM (SPKI) public key. Exactly one of `jwksUrl`, `publicKeyPem` and `secret`.
   *
   * @default - none
   */
  readonly publicKeyPem?: string;
  /**
   * HMAC secret (at least 32 characters). It lands in the template and the Lambda
   * environment in clear text: prefer `jwksUrl` or `publicKeyPem`.
   *
   * @default - none
   */
  readonly secret?: string;
  /** Accepted algorithms, pinned here (never taken from the token). */
  readonly algorithms: readonly JwtAlgorithm[];
  /**
   * Required `iss`.
   *
   * @default - not checked
   */
  readonly issuer?: string;
  /**
   * Required `aud`.
   *
   * @default - not checked
   */
  readonly audience?: string | readonly string[];
  /**
   * Tolerance in seconds for `exp`, `nbf` and `iat`.
   *
   * @default 60
   */
  readonly clockTolerance?: number;
  /**
   * Claim that names the identity.
   *
   * @default 'sub'
   */
  readonly identityClaim?: string;
  /**
   * Claim that lists the policies of a new session.
   *
   * @default 'pol'
   */
  readonly policyClaim?: string;
  /**
   * Policies of a new session when the token names none.
   *
   * @default []
   */
  readonly defaultPolicies?: readonly string[];
}

/**
 * The runtime settings both Lambdas read from `GATEPASS_CONFIG` (SPEC §7). The table name
 * and the result cache TTL come from the constructs themselves.
 */
export interface GatepassConfigProps {
  /**
   * Request header that carries the API key (raw or `Bearer <key>`).
   *
   * @default 'Authorization'
   */
  readonly apiKeyHeader?: string;
  /**
   * JWT verification; when set, `Authorization: Bearer <a.b.c>` is verified as a JWT.
   *
   * @default - API keys only
   */
  readonly jwt?: GatepassJwtConfig;
  /**
   * Plugin names, run in this order; each is `/opt/gatepass/plugins/<name>.mjs` in a layer.
   *
   * @default []
   */
  readonly plugins?: readonly string[];
  /**
   * Time a plugin hook may run before the request fails closed.
   *
   * @default 1000
   */
  readonly hookTimeoutMs?: number;
  /**
   * Upper bound, in seconds, on how stale a cached policy may be (0 = read every time).
   *
   * @default 10
   */
  readonly policyCacheSeconds?: number;
  /**
   * How long an expired session is kept (TTL = expires + this) so that it can still be renewed.
   *
   * @default 2592000 (30 days)
   */
  readonly sessionRetentionSeconds?: number;
  /**
   * Answer format for HTTP API (payload 2.0) authorizers.
   *
   * @default 'simple'
   */
  readonly httpApiResponse?: 'simple' | 'iam';
}

/**
 * The `GATEPASS_CONFIG` object, validated at synth time by the same schema the Lambdas use
 * at cold start (so a bad prop fails `cdk synth`, naming every bad field, instead of
 * failing every request), with every default filled in. `tableName` may be a token.
 */
export function gatepassConfig(tableName: string, props: GatepassConfigProps = {}, resultsCacheTtlSeconds = 0): Config {
  const { jwt } = props;
  const input: ConfigInput = {
    tableName,
    apiKeyHeader: props.apiKeyHeader,
    jwt: jwt && {
      ...jwt,
      algorithms: [...jwt.algorithms],
      audience: typeof jwt.audience === 'string' || jwt.audience === undefined ? jwt.audience : [...jwt.audience],
      defaultPolicies: jwt.defaultPolicies && [...jwt.defaultPolicies],
    },
    plugins: props.plugins && [...props.plugins],
    hookTimeoutMs: props.hookTimeoutMs,
    policyCacheSeconds: props.policyCacheSeconds,
    resultsCacheTtl: resultsCacheTtlSeconds,
    httpApiResponse: props.httpApiResponse,
    sessionRetentionSeconds: props.sessionRetentionSeconds,
  };
  return validate(ConfigSchema, withoutUndefined(input), 'gatepass construct props');
}

/** Drops undefined fields (recursively into `jwt`), so that the schema's defaults apply. */
function withoutUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(
    Object.entries(obj)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, v !== null && typeof v === 'object' && !Array.isArray(v) ? withoutUndefined(v) : v]),
  ) as T;
}

/** Properties of {@link GatepassAuthorizer}. */
export interface GatepassAuthorizerProps extends GatepassConfigProps {
  /** The session table (usually `SessionTable.table`). */
  readonly table: dynamodb.ITable;
  /**
   * Layers with plugins (`/opt/gatepass/plugins/<name>.mjs`), named in `plugins`.
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
   * state that gatepass exists to avoid, and it makes quotas inexact (SPEC §4).
   *
   * @default Duration.seconds(0)
   */
  readonly resultsCacheTtl?: Duration;
  /**
   * Identity sources of the REQUEST authorizer (`apigateway.IdentitySource.header(…)` etc.).
   * API Gateway answers 401 without calling the Lambda when one is missing — and uses them as
   * the cache key — only when caching is on. With caching off none are set, so the Lambda
   * sees every request: `pre` and `auth` hooks run, a JWT or key in another place works, and
   * the 401 for a missing credential comes from the Lambda with the same body.
   *
   * @default - none when `resultsCacheTtl` is 0; otherwise the API key header
   */
  readonly identitySources?: readonly string[];
}

/**
 * The gatepass authorizer Lambda (Node.js 22, ARM64, ESM) and the REQUEST authorizers that
 * attach it to REST APIs. Its role may only GetItem, PutItem and UpdateItem on the table.
 *
 * @example
 * const gatepass = new GatepassAuthorizer(this, 'Authorizer', { table: sessions.table });
 * api.root.addMethod('GET', integration, { authorizer: gatepass.forRestApi(api) });
 */
export class GatepassAuthorizer extends Construct {
  /** The authorizer Lambda. */
  public readonly function: nodejs.NodejsFunction;
  /** The function's log group. */
  public readonly logGroup: logs.LogGroup;
  /** The `GATEPASS_CONFIG` object the function receives (the table name may be a token). */
  public readonly config: Config;

  private readonly resultsCacheTtl: Duration;
  private readonly identitySources: readonly string[];
  private readonly authorizers = new Map<apigateway.IRestApi, apigateway.RequestAuthorizer>();

  constructor(scope: Construct, id: string, props: GatepassAuthorizerProps) {
    super(scope, id);

    this.resultsCacheTtl = props.resultsCacheTtl ?? Duration.seconds(0);
    this.config = gatepassConfig(props.table.tableName, props, this.resultsCacheTtl.toSeconds());
    const timeout = props.timeout ?? Duration.seconds(3);
    if (!timeout.isUnresolved() && this.config.hookTimeoutMs >= timeout.toMilliseconds()) {
      throw new Error(
        `gatepass: hookTimeoutMs (${this.config.hookTimeoutMs}) must be shorter than the Lambda timeout (${timeout.toHumanString()})`,
      );
    }
    const caching = this.config.resultsCacheTtl > 0;
    this.identitySources = props.identitySources ?? (caching ? [apigateway.IdentitySource.header(this.config.apiKeyHeader)] : []);
    if (caching) {
      Annotations.of(this).addWarningV2(
        'gatepass:resultsCacheTtl',
        'Authorizer result caching is on: decisions are served stale for up to resultsCacheTtl (quotas become inexact, renewed or revoked keys lag), the identity sources become the cache key and are required on every request, and Allow policies cover the whole API.',
      );
    }
    if (props.jwt?.secret !== undefined) {
      Annotations.of(this).addWarningV2('gatepass:jwtSecret', 'jwt.secret is stored in clear text in the template and the Lambda environment.');
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy,
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, 'lambdas/authorizer/handler.ts'),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout,
      logGroup: this.logGroup,
      layers: props.layers ? [...props.layers] : undefined,
      bundling: GATEPASS_BUNDLING,
      environment: {
        GATEPASS_CONFIG: Stack.of(this).toJsonString(this.config),
        NODE_OPTIONS: '--enable-source-maps',
      },
      description: 'gatepass authorizer',
    });

    // Written out instead of grantReadWriteData: no Scan, Query, BatchWrite or DeleteItem.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
      }),
    );
    props.table.encryptionKey?.grantEncryptDecrypt(this.function);
  }

  /**
   * The REQUEST authorizer for `api` (created on first call, then reused). API Gateway binds
   * an authorizer to exactly one REST API, so each API gets its own. `api` may be a `RestApi`
   * in this app or one imported with `RestApi.fromRestApiAttributes`.
   */
  public forRestApi(api: apigateway.IRestApi): apigateway.RequestAuthorizer {
    let authorizer = this.authorizers.get(api);
    if (!authorizer) {
      authorizer = new apigateway.RequestAuthorizer(this, `RequestAuthorizer${Names.nodeUniqueId(api.node)}`, {
        handler: this.function,
        resultsCacheTtl: this.resultsCacheTtl,
        identitySources: [...this.identitySources],
      });
      this.authorizers.set(api, authorizer);
    }
    return authorizer;
  }
}
