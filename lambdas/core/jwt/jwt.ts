/**
 * JWT verification (README, "JWT"). A verifier is created once per cold start; `verify` turns
 * every token into a verdict (outcomes are data) and throws only for faults — JWKS
 * unreachable, bad key config — so that the handler fails closed with 500 (I6).
 */
import { decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import { isPolicyId } from '../policies/policy-id.ts';
import type { JwtConfig } from '../model/config.ts';
import { silentLog, type Log } from '../model/log.ts';
import { claimTypeProblem, identityOf } from './claims.ts';
import { cognitoProblem } from './cognito.ts';
import { keySource, type KeySourceOptions } from './key-source.ts';
import { keyWarnings, UnusableKeyError } from './key-strength.ts';

export { JwksUnavailableError } from './key-source.ts';

/**
 * Longest token read, in characters (a compact JWT is ASCII: bytes). API Gateway refuses a
 * request whose request line and headers exceed 10,240 bytes, so no real token is longer;
 * a longer one is refused as `token_invalid` without being decoded.
 */
export const MAX_TOKEN_LENGTH = 10_240;

/** The token's time claims, as decoded (unverified), for logging skew on denials. */
export interface TokenTimes {
  readonly iat?: number;
  readonly nbf?: number;
  readonly exp?: number;
}

export type JwtDenialReason = 'token_invalid' | 'token_expired' | 'token_not_yet_valid';

export type JwtVerdict =
  | {
      readonly ok: true;
      /** `claims[identityClaim]`; an integer (not allowed for `sub`) as its decimal string. */
      readonly identity: string;
      /** `claims.iss`, or `''` when the token has none (or not as a string). */
      readonly issuer: string;
      /** `claims[policyClaim]` as a list; `undefined` when the claim is absent. */
      readonly policies: string[] | undefined;
      readonly claims: JWTPayload;
      readonly times: TokenTimes;
    }
  | { readonly ok: false; readonly reason: JwtDenialReason; readonly detail: string; readonly times: TokenTimes };

export interface JwtVerifier {
  verify(token: string): Promise<JwtVerdict>;
}

export interface JwtVerifierOptions extends KeySourceOptions {
  /** Current time, epoch ms; drives `exp`/`nbf`/`iat` checks (not the JWKS cache timers). @default Date.now */
  readonly clock?: () => number;
  /** Where problems of the issuer's (a published key too weak to use) are warned about. @default silentLog */
  readonly log?: Log;
}

/** jose codes that mean "this token is bad" (its key resolution faults are wrapped earlier). */
const TOKEN_INVALID_CODES: ReadonlySet<string> = new Set([
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JOSE_NOT_SUPPORTED', // an unrecognised `crit` header extension
]);

/**
 * Creates the verifier for a JWT config: the key source is set up here, once (a JWKS
 * resolver with its cache, an imported PEM, or the secret's bytes). The algorithms come
 * from config only; a key that cannot serve them is a `ConfigError` thrown here.
 *
 * @example
 * const verifier = createJwtVerifier(config.jwt); // module scope
 * const verdict = await verifier.verify(token);
 * if (!verdict.ok) return deny(verdict.reason);
 */
export function createJwtVerifier(config: JwtConfig, options: JwtVerifierOptions = {}): JwtVerifier {
  const clock = options.clock ?? Date.now;
  const key = keySource(config, options);
  const warnOnce = keyWarnings(options.log ?? silentLog, config.jwksUrl ?? 'jwt.publicKeyPem');
  const baseOptions = {
    algorithms: [...config.algorithms],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockTolerance,
    requiredClaims: config.requireExp ? ['exp'] : [],
  };

  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) {
        return {
          ok: false,
          reason: 'token_invalid',
          detail: `token of ${token.length} bytes, over the ${MAX_TOKEN_LENGTH}-byte bound`,
          times: {},
        };
      }
      const times = tokenTimes(token);
      const now = clock();
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, key, { ...baseOptions, currentDate: new Date(now) }));
      } catch (error) {
        if (!(error instanceof UnusableKeyError)) return { ok: false, ...denialFor(error), times };
        warnOnce(error);
        return { ok: false, reason: 'token_invalid', detail: error.message, times };
      }
      // jose does not reject a future `iat` on its own; `clockTolerance` applies to it too.
      const latest = Math.floor(now / 1000) + config.clockTolerance;
      if (claims.iat !== undefined && claims.iat > latest) {
        const detail = `"iat" is ${claims.iat - latest} s beyond now + tolerance: the issuer's clock is ahead (clock skew)`;
        return { ok: false, reason: 'token_not_yet_valid', detail, times };
      }
      const problem = claimTypeProblem(claims) ?? cognitoProblem(claims, config);
      if (problem !== undefined) return { ok: false, reason: 'token_invalid', detail: problem, times };
      return verdictFor(claims, config, times);
    },
  };
}

/** Identity and policies from verified claims; a malformed one is a bad token. */
function verdictFor(claims: JWTPayload, config: JwtConfig, times: TokenTimes): JwtVerdict {
  const found = identityOf(claims, config.identityClaim);
  if ('problem' in found) return { ok: false, reason: 'token_invalid', detail: found.problem, times };
  const rawPolicies = claims[config.policyClaim];
  const policies = typeof rawPolicies === 'string' ? [rawPolicies] : rawPolicies;
  if (policies !== undefined && !isPolicyList(policies)) {
    return { ok: false, reason: 'token_invalid', detail: `"${config.policyClaim}" must be a policy id or a list of them`, times };
  }
  const issuer = typeof claims.iss === 'string' ? claims.iss : '';
  return { ok: true, identity: found.identity, issuer, policies: policies && [...policies], claims, times };
}

/** Policy ids are non-empty strings (as in the config schema). */
/**
 * At most this many policies per token: the limit of a session's `applyPolicies`. A signed
 * token still cannot make one request read thousands of policies.
 */
export const MAX_TOKEN_POLICIES = 32;

function isPolicyList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_TOKEN_POLICIES && value.every((id) => typeof id === 'string' && isPolicyId(id));
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
      // A non-numeric `nbf` ("invalid") is malformed, not early; a missing `exp` is invalid.
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
