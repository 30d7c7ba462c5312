/**
 * JWT verification (SPEC §5). A verifier is created once per cold start; `verify` turns
 * every token into a verdict (outcomes are data) and throws only for faults — JWKS
 * unreachable, bad key config — so that the handler fails closed with 500 (I6).
 */
import { createPublicKey } from 'node:crypto';
import {
  createRemoteJWKSet, decodeJwt, errors, importSPKI, jwtVerify,
  type CryptoKey, type JWTPayload, type JWTVerifyGetKey,
} from 'jose';
import type { JwtConfig } from '../model/config.ts';
import { ConfigError, GatepassError } from '../model/errors.ts';

/** The token's time claims, as decoded (unverified), for logging skew on denials. */
export interface TokenTimes { readonly iat?: number; readonly nbf?: number; readonly exp?: number }

export type JwtDenialReason = 'token_invalid' | 'token_expired' | 'token_not_yet_valid';

export type JwtVerdict =
  | {
    readonly ok: true;
    /** `claims[identityClaim]`, a number converted to a string. */
    readonly identity: string;
    /** `claims.iss`, or `''` when the token has none (or not as a string). */
    readonly issuer: string;
    /** `claims[policyClaim]` as a list; `undefined` when the claim is absent. */
    readonly policies: string[] | undefined;
    readonly claims: JWTPayload;
    readonly times: TokenTimes;
  }
  | { readonly ok: false; readonly reason: JwtDenialReason; readonly detail: string; readonly times: TokenTimes };

export interface JwtVerifier { verify(token: string): Promise<JwtVerdict> }

export interface JwtVerifierOptions {
  /** Current time, epoch ms; drives `exp`/`nbf`/`iat` checks (not the JWKS cache timers). @default Date.now */
  readonly clock?: () => number;
  /** After a JWKS fetch, how long an unknown `kid` waits before it may trigger another, ms. @default 30_000 */
  readonly jwksCooldownMs?: number;
  /** How long fetched keys are used before the JWKS is fetched again, ms. @default 600_000 */
  readonly jwksCacheMaxAgeMs?: number;
  /** Budget of one JWKS fetch, ms (API Gateway is waiting for the answer). @default 1500 */
  readonly jwksTimeoutMs?: number;
}

/** The JWKS could not be fetched or is not a valid key set: a fault, never a denial. */
export class JwksUnavailableError extends GatepassError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_JWKS_UNAVAILABLE', message, options);
  }
}

type Algorithm = JwtConfig['algorithms'][number];

/** jose codes that mean "this token is bad" (its key resolution faults are wrapped earlier). */
const TOKEN_INVALID_CODES: ReadonlySet<string> = new Set([
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'ERR_JWS_INVALID', 'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED', 'ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JOSE_NOT_SUPPORTED', // an unrecognised `crit` header extension
]);

/**
 * Creates the verifier for a JWT config: the key source is set up here, once (a JWKS
 * resolver with its cache, an imported PEM, or the secret's bytes). The algorithms come
 * from config only; a key that cannot serve them is a {@link ConfigError} thrown here.
 *
 * @example
 * const verifier = createJwtVerifier(config.jwt); // module scope
 * const verdict = await verifier.verify(token);
 * if (!verdict.ok) return deny(verdict.reason);
 */
export function createJwtVerifier(config: JwtConfig, options: JwtVerifierOptions = {}): JwtVerifier {
  const clock = options.clock ?? Date.now;
  const key = keySource(config, options);
  const baseOptions = {
    algorithms: [...config.algorithms],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockTolerance,
  };

  return {
    async verify(token) {
      const times = tokenTimes(token);
      const now = clock();
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, key, { ...baseOptions, currentDate: new Date(now) }));
      } catch (error) {
        return { ok: false, ...denialFor(error), times };
      }
      // jose does not reject a future `iat` on its own; SPEC §5 applies the tolerance to it too.
      const latest = Math.floor(now / 1000) + config.clockTolerance;
      if (claims.iat !== undefined && claims.iat > latest) {
        const detail = `"iat" is ${claims.iat - latest} s beyond now + tolerance: the issuer's clock is ahead (clock skew)`;
        return { ok: false, reason: 'token_not_yet_valid', detail, times };
      }
      return verdictFor(claims, config, times);
    },
  };
}

/** Identity and policies from verified claims; a malformed one is a bad token. */
function verdictFor(claims: JWTPayload, config: JwtConfig, times: TokenTimes): JwtVerdict {
  const rawIdentity = claims[config.identityClaim];
  const identity = typeof rawIdentity === 'number' && Number.isFinite(rawIdentity) ? String(rawIdentity) : rawIdentity;
  if (typeof identity !== 'string' || identity === '') {
    return { ok: false, reason: 'token_invalid', detail: `no identity claim "${config.identityClaim}"`, times };
  }
  const rawPolicies = claims[config.policyClaim];
  const policies = typeof rawPolicies === 'string' ? [rawPolicies] : rawPolicies;
  if (policies !== undefined && !isPolicyList(policies)) {
    return { ok: false, reason: 'token_invalid', detail: `"${config.policyClaim}" must be a policy id or a list of them`, times };
  }
  return { ok: true, identity, issuer: typeof claims.iss === 'string' ? claims.iss : '', policies: policies && [...policies], claims, times };
}

/** Policy ids are non-empty strings (as in the config schema). */
function isPolicyList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'string' && id !== '');
}

/** Maps a jose error to a denial; anything else (JWKS down, config, bugs) is rethrown. */
function denialFor(error: unknown): { reason: JwtDenialReason; detail: string } {
  if (!(error instanceof errors.JOSEError)) throw error;
  const detail = `${error.code}: ${error.message}`;
  switch (error.code) {
    case 'ERR_JWT_EXPIRED':
      return { reason: 'token_expired', detail };
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = error as errors.JWTClaimValidationFailed;
      // A non-numeric `nbf` ("invalid") is malformed, not early.
      return { reason: claim === 'nbf' && reason === 'check_failed' ? 'token_not_yet_valid' : 'token_invalid', detail };
    }
    default:
      if (TOKEN_INVALID_CODES.has(error.code)) return { reason: 'token_invalid', detail };
      throw error;
  }
}

/** `iat`/`nbf`/`exp` of a token that may not even verify; empty when it cannot be decoded. */
function tokenTimes(token: string): TokenTimes {
  try {
    const { iat, nbf, exp } = decodeJwt(token);
    return {
      ...(typeof iat === 'number' && { iat }),
      ...(typeof nbf === 'number' && { nbf }),
      ...(typeof exp === 'number' && { exp }),
    };
  } catch {
    return {};
  }
}

/** The key jose verifies with, set up once; checks the key kind against the pinned algorithms. */
function keySource(config: JwtConfig, options: JwtVerifierOptions): Uint8Array | JWTVerifyGetKey {
  const hmac = config.algorithms.filter((alg) => alg.startsWith('HS'));
  if (config.secret !== undefined) {
    if (hmac.length !== config.algorithms.length) throw new ConfigError('jwt.secret can only verify HS256, HS384 or HS512');
    return new TextEncoder().encode(config.secret);
  }
  if (hmac.length > 0) throw new ConfigError(`jwt: ${hmac.join(', ')} need a secret, not a public key or JWKS`);
  if (config.publicKeyPem !== undefined) return pemKey(config.publicKeyPem, config.algorithms);
  if (config.jwksUrl !== undefined) return remoteKey(config.jwksUrl, options);
  throw new ConfigError('jwt needs one of jwksUrl, publicKeyPem or secret');
}

/** Which public key kind each asymmetric algorithm needs (Node `asymmetricKeyType`, EC curve). */
const KEY_KINDS: Partial<Record<Algorithm, string>> = {
  RS256: 'rsa', RS384: 'rsa', RS512: 'rsa', PS256: 'rsa', PS384: 'rsa', PS512: 'rsa',
  ES256: 'ec/prime256v1', ES384: 'ec/secp384r1', ES512: 'ec/secp521r1', EdDSA: 'ed25519',
};

/** A PEM public key, imported lazily per pinned algorithm (a CryptoKey is bound to one) and cached. */
function pemKey(pem: string, algorithms: readonly Algorithm[]): JWTVerifyGetKey {
  let details: { kind: string; modulusLength?: number | undefined };
  try {
    const key = createPublicKey(pem);
    const { namedCurve, modulusLength } = key.asymmetricKeyDetails ?? {};
    details = { kind: [key.asymmetricKeyType, namedCurve].filter(Boolean).join('/'), modulusLength };
  } catch (cause) {
    throw new ConfigError('jwt.publicKeyPem is not a PEM public key', { cause });
  }
  const { kind, modulusLength } = details;
  const unfit = algorithms.filter((alg) => KEY_KINDS[alg] !== kind);
  if (unfit.length > 0) throw new ConfigError(`jwt.publicKeyPem (${kind}) cannot verify ${unfit.join(', ')}`);
  // jose refuses RSA keys under 2048 bits at verification; say so now rather than fail every request.
  if (modulusLength !== undefined && modulusLength < 2048) throw new ConfigError('jwt.publicKeyPem: RSA keys need 2048 bits or more');

  const imported = new Map<string, Promise<CryptoKey>>(); // at most one entry per pinned algorithm
  return ({ alg }) => {
    // jose has already refused an algorithm that is not pinned; this keeps the map bounded anyway.
    if (!(algorithms as readonly string[]).includes(alg)) throw new errors.JOSEAlgNotAllowed(`"${alg}" is not allowed`);
    let key = imported.get(alg);
    if (key === undefined) {
      key = importSPKI(pem, alg).catch((cause: unknown) => {
        throw new ConfigError(`jwt.publicKeyPem cannot be imported for ${alg}`, { cause });
      });
      imported.set(alg, key);
    }
    return key;
  };
}

/**
 * A JWKS resolver created once, with jose's cache: keys are reused for `jwksCacheMaxAgeMs`,
 * and an unknown `kid` refetches at most once per `jwksCooldownMs` (key rotation). A fetch
 * that fails or times out, or a response that is not a JWKS, becomes {@link JwksUnavailableError};
 * only "no key / several keys for this token" stay token errors.
 */
function remoteKey(url: string, options: JwtVerifierOptions): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(url), {
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
    timeoutDuration: options.jwksTimeoutMs ?? 1500,
  });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      const reason = error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error);
      throw new JwksUnavailableError(`JWKS ${url} unavailable: ${reason}`, { cause: error });
    }
  };
}
