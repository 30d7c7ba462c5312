import * as z from 'zod'; // a namespace import lets esbuild drop what is unused (zod's locales)
import { ConfigError } from './errors.ts';
import { DEFAULT_TABLE_NAME } from '../model/table.ts';

/** Algorithms a JWT may be verified with. `none` is never among them. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
] as const;

export const JwtConfigSchema = z
  .strictObject({
    /** JWKS endpoint of the issuer (Auth0, Cognito, Okta…). */
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** A PEM (SPKI) public key, instead of a JWKS. */
    publicKeyPem: z.string().min(1).optional(),
    /** An HMAC secret, instead of a JWKS. */
    secret: z.string().min(32, 'must be at least 32 characters').optional(),
    /** The algorithms accepted; pinned here, never taken from the token. */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1),
    /** The required `iss`. @default - not checked */
    issuer: z.string().min(1).optional(),
    /** The required `aud`: the token's must name one of these. @default - not checked */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /**
     * Refuse a token without `exp` (`token_invalid`). RFC 7519 §4.1.4 makes `exp` optional,
     * but a token without one is valid forever: set `false` only for an issuer that never
     * sets it. @default true
     */
    requireExp: z.boolean().default(true),
    /**
     * Amazon Cognito: the `token_use` a token must carry, `id` or `access` (aws-jwt-verify's
     * `tokenUse`). @default - not checked (with `clientIds`, either one)
     */
    tokenUse: z.enum(['id', 'access']).optional(),
    /**
     * Amazon Cognito: the app client ids accepted (aws-jwt-verify's `clientId`). An access
     * token's `client_id`, or an id token's `aud`, must be one of them, and `token_use` must
     * be `id` or `access`. Use instead of `audience` (access tokens carry no `aud`).
     * @default - not checked
     */
    clientIds: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** Seconds of tolerance on `exp`, `nbf` and `iat`. @default 60 */
    clockTolerance: z.number().int().min(0).max(3600).default(60),
    /**
     * Claim naming the identity whose session is used. `sub` must be a string (RFC 7519
     * §4.1.2). Any other claim may also be an integer (within ±2^53−1), read as its decimal
     * string: `42` and `"42"` are then the same identity, with one session. @default 'sub'
     */
    identityClaim: z.string().min(1).default('sub'),
    /** Claim naming the policies of a new identity's session. @default 'pol' */
    policyClaim: z.string().min(1).default('pol'),
    /** Policies of a new identity's session when the token names none. @default [] */
    defaultPolicies: z.array(z.string().min(1)).default([]),
  })
  // Runs even when other fields failed, so that every problem is named at once.
  .superRefine(
    (jwt, ctx) => {
      const sources = [jwt.jwksUrl, jwt.publicKeyPem, jwt.secret].filter((s) => s !== undefined);
      if (sources.length !== 1) {
        ctx.addIssue({ code: 'custom', path: [], message: 'exactly one of jwksUrl, publicKeyPem or secret is required' });
      }
      if (jwt.clientIds !== undefined && jwt.audience !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clientIds'],
          message: 'use clientIds (Cognito) or audience, not both: Cognito access tokens carry no aud',
        });
      }
    },
    { when: () => true },
  );

export const ConfigSchema = z.strictObject({
  /** The session table. @default 'gatepass-sessions' */
  tableName: z.string().min(3).max(255).default(DEFAULT_TABLE_NAME),
  /** Header carrying the API key, raw or as `Bearer <key>`. @default 'Authorization' */
  apiKeyHeader: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9-]+$/)
    .default('Authorization'),
  jwt: JwtConfigSchema.optional(),
  /** Plugins, run in this order: layer names in Lambda, entry paths locally. @default [] */
  plugins: z.array(z.string().min(1)).default([]),
  /** Time budget of one hook call, in ms. @default 1000 */
  hookTimeoutMs: z.number().int().min(1).max(30_000).default(1000),
  /** Longest a policy may be served from memory, in s; 0 = read every time. @default 10 */
  policyCacheSeconds: z.number().int().min(0).max(3600).default(10),
  /**
   * The REST authorizer's result cache TTL, in s, as configured on API Gateway. When
   * above 0 the policy covers the whole API and stage (a policy for one method, cached,
   * would deny the caller's other routes). Caching brings back stale decisions and
   * inexact quotas: keep 0 unless you accept that. @default 0
   */
  resultsCacheTtl: z.number().int().min(0).max(3600).default(0),
  /** HTTP API (payload 2.0) answers: `simple` ({isAuthorized}) or `iam` (a policy). @default 'simple' */
  httpApiResponse: z.enum(['simple', 'iam']).default('simple'),
  /** How long an expired session is kept (then TTL deletes it), in s. @default 2592000 (30 days) */
  sessionRetentionSeconds: z.number().int().min(0).default(2_592_000),
});

export const LocalSettingsSchema = z.strictObject({
  port: z.number().int().min(0).max(65_535).default(3000),
  adminPort: z.number().int().min(0).max(65_535).default(3001),
  upstream: z.url().optional(),
  apiId: z.string().min(1).default('local'),
  stage: z.string().min(1).default('dev'),
});

/** The local config file (`gatepass.config.json`): the config plus `local` settings. */
export const LocalConfigSchema = ConfigSchema.extend({
  local: LocalSettingsSchema.default(LocalSettingsSchema.parse({})),
});

export type Config = z.infer<typeof ConfigSchema>;
export type JwtConfig = z.infer<typeof JwtConfigSchema>;
export type LocalConfig = z.infer<typeof LocalConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/**
 * Parses and validates a config JSON string (the `GATEPASS_CONFIG` environment variable).
 * Throws {@link ConfigError} naming every bad field.
 *
 * @example
 * parseConfig('{"tableName":"sessions"}').apiKeyHeader; // 'Authorization'
 */
export function parseConfig(json: string | undefined, source = 'GATEPASS_CONFIG'): Config {
  return validate(ConfigSchema, parseJson(json, source), source);
}

/** Validates an already-parsed config object. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, source: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(`${source} is invalid: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/** One line naming every bad field: `jwt.algorithms: …; hookTimeoutMs: …`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

function parseJson(json: string | undefined, source: string): unknown {
  if (json === undefined || json.trim() === '') throw new ConfigError(`${source} is not set`);
  try {
    return JSON.parse(json);
  } catch (cause) {
    throw new ConfigError(`${source} is not valid JSON`, { cause });
  }
}
