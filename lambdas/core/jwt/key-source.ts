/**
 * Where the verifier's keys come from — a JWKS URL, a PEM public key or an HMAC secret —
 * set up once per cold start and checked against the pinned algorithms.
 */
import { createPublicKey } from 'node:crypto';
import { createRemoteJWKSet, errors, importSPKI, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import type { JwtConfig } from '../model/config.ts';
import { ConfigError, GatepassError } from '../model/errors.ts';
import { assertUsableKey, MIN_RSA_BITS } from './key-strength.ts';

/** The JWKS could not be fetched or is not a valid key set: a fault, never a denial. */
export class JwksUnavailableError extends GatepassError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_JWKS_UNAVAILABLE', message, options);
  }
}

export interface KeySourceOptions {
  /** After a JWKS fetch, how long an unknown `kid` waits before it may trigger another, ms. @default 30_000 */
  readonly jwksCooldownMs?: number;
  /** How long fetched keys are used before the JWKS is fetched again, ms. @default 600_000 */
  readonly jwksCacheMaxAgeMs?: number;
  /** Budget of one JWKS fetch, ms (API Gateway is waiting for the answer). @default 1500 */
  readonly jwksTimeoutMs?: number;
}

type Algorithm = JwtConfig['algorithms'][number];

/** The key jose verifies with, set up once; checks the key kind against the pinned algorithms. */
export function keySource(config: JwtConfig, options: KeySourceOptions): Uint8Array | JWTVerifyGetKey {
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
  RS256: 'rsa',
  RS384: 'rsa',
  RS512: 'rsa',
  PS256: 'rsa',
  PS384: 'rsa',
  PS512: 'rsa',
  ES256: 'ec/prime256v1',
  ES384: 'ec/secp384r1',
  ES512: 'ec/secp521r1',
  EdDSA: 'ed25519',
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
  if (modulusLength !== undefined && modulusLength < MIN_RSA_BITS)
    throw new ConfigError('jwt.publicKeyPem: RSA keys need 2048 bits or more');

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
 * only "no key / several keys for this token" stay token errors. A published key too weak to
 * verify with throws `UnusableKeyError` (key-strength.ts), before jose would.
 */
function remoteKey(url: string, options: KeySourceOptions): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(url), {
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
    timeoutDuration: options.jwksTimeoutMs ?? 1500,
  });
  return async (header, token) => {
    let key: CryptoKey;
    try {
      key = await jwks(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      const reason =
        error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error);
      throw new JwksUnavailableError(`JWKS ${url} unavailable: ${reason}`, { cause: error });
    }
    assertUsableKey(key, header);
    return key;
  };
}
