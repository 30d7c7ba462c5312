import { ConfigSchema, validate, type JWT_ALGORITHMS, type Config, type ConfigInput } from '../lambdas/core/model/config.ts';

/** A JWT signature algorithm gatepass accepts (`none` is not one). */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** JWT verification settings, passed to `GATEPASS_CONFIG.jwt` (see the README's JWT section). */
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
   * Refuse tokens without `exp`.
   *
   * @default true
   */
  readonly requireExp?: boolean;
  /**
   * Amazon Cognito: the required `token_use`.
   *
   * @default - not checked
   */
  readonly tokenUse?: 'id' | 'access';
  /**
   * Amazon Cognito: accepted app client ids (an access token's `client_id`, an id token's
   * `aud`). Not together with `audience`.
   *
   * @default - not checked
   */
  readonly clientIds?: string | readonly string[];
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
 * The runtime settings both Lambdas read from `GATEPASS_CONFIG`. The table name
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
   * Plugin names, run in this order; each is `/opt/gatepass/plugins/<name>.mjs` in a layer
   * that you attach yourself. `GatepassAuthorizer.addPlugin(pluginLayer)` attaches the layer
   * and appends its name after these.
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
   * How the authorizer answers HTTP APIs, and so how `GatepassAuthorizer.forHttpApi`
   * configures them: `simple` (payload 2.0, `{isAuthorized, context}`) or `iam` (an IAM
   * policy; CDK's `HttpLambdaAuthorizer` then uses payload format 1.0).
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
    // Lists are copied (the schema wants mutable arrays) only when they are lists: anything
    // else goes to the schema as it is, which names the field instead of a TypeError here.
    jwt: jwt && {
      ...jwt,
      algorithms: copied(jwt.algorithms) as JwtAlgorithm[],
      audience: copied(jwt.audience),
      clientIds: copied(jwt.clientIds),
      defaultPolicies: copied(jwt.defaultPolicies),
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

/** A copy of a list; anything else as it is. */
function copied<T>(value: T): T extends readonly (infer I)[] ? I[] : T {
  return (Array.isArray(value) ? [...value] : value) as T extends readonly (infer I)[] ? I[] : T;
}

/** Drops undefined fields (recursively into `jwt`), so that the schema's defaults apply. */
function withoutUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(
    Object.entries(obj)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, v !== null && typeof v === 'object' && !Array.isArray(v) ? withoutUndefined(v) : v]),
  ) as T;
}
