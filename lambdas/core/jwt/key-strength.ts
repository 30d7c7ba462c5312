/**
 * Keys an issuer publishes that cannot verify anything: RSA keys under 2048 bits (RFC 7518
 * §3.3 and §3.5 require 2048 or more for RS* and PS*). jose refuses them with a TypeError
 * before it even looks at the signature, which would fault every request naming that
 * `kid`. They are checked here first, so that such a token is refused as invalid — the
 * issuer's problem, warned about once per `kid` — while every other unexpected error still
 * fails the request closed.
 */
import type { CryptoKey, JWSHeaderParameters } from 'jose';
import type { Log } from '../model/log.ts';

/** The smallest RSA modulus jose verifies with, in bits. */
export const MIN_RSA_BITS = 2048;

/** How many `kid`s the warnings remember (the oldest is forgotten first). */
export const WARNED_KIDS_MAX = 100;

/**
 * A published key this token's algorithm cannot be verified with. Never leaves the
 * verifier: it becomes a `token_invalid` denial.
 */
export class UnusableKeyError extends Error {
  /** The token's `kid`, if it named one. */
  readonly kid: string | undefined;

  constructor(kid: string | undefined, message: string) {
    super(message);
    this.name = 'UnusableKeyError';
    this.kid = kid;
  }
}

/** Throws {@link UnusableKeyError} for an RSA key under {@link MIN_RSA_BITS} bits. */
export function assertUsableKey(key: CryptoKey, header: JWSHeaderParameters): void {
  const { modulusLength } = key.algorithm as { modulusLength?: unknown };
  if (typeof modulusLength === 'number' && modulusLength < MIN_RSA_BITS) {
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    throw new UnusableKeyError(
      kid,
      `the issuer's ${header.alg} key ${kid === undefined ? '(no kid)' : `"${kid}"`} has ${modulusLength} bits; ${MIN_RSA_BITS} or more are needed`,
    );
  }
}

/**
 * Warns about each unusable `kid` once (a token naming it can be sent again and again),
 * remembering at most `max` of them.
 *
 * @example
 * const warnOnce = keyWarnings(log, 'https://issuer.example/jwks.json');
 * warnOnce(error); // logs; the same kid again does not
 */
export function keyWarnings(log: Log, source: string, max = WARNED_KIDS_MAX): (error: UnusableKeyError) => void {
  const warned = new Set<string>(); // insertion order: the first is the oldest
  return (error) => {
    const kid = error.kid ?? '';
    if (warned.has(kid)) return;
    if (warned.size >= max) warned.delete(warned.values().next().value!);
    warned.add(kid);
    log.warn('JWT signing key unusable: the issuer publishes a key too weak to verify with', {
      kid: error.kid,
      source,
      detail: error.message,
    });
  };
}
