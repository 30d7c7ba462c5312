/**
 * RFC 7519 checks on verified claims that jose leaves to its caller: the types of `iss` and
 * `aud` (jose only compares them with the configured values, and only when configured), and
 * the identity a session is keyed by. Each answers a problem to deny with, or the value.
 */
import type { JWTPayload } from 'jose';

/**
 * Why `iss` or `aud` has the wrong type, or `undefined` when both are fine (or absent).
 * RFC 7519 §4.1.1: `iss` is a string; §4.1.3: `aud` is a string or an array of strings —
 * checked whether or not an audience is configured.
 *
 * @example
 * claimTypeProblem({ aud: ['api', 7] }); // '"aud" must be a string or an array of strings …'
 */
export function claimTypeProblem(claims: JWTPayload): string | undefined {
  if (claims.iss !== undefined && typeof claims.iss !== 'string') return '"iss" must be a string (RFC 7519 §4.1.1)';
  const { aud } = claims as { aud?: unknown };
  if (aud === undefined || typeof aud === 'string') return undefined;
  if (Array.isArray(aud) && aud.every((member) => typeof member === 'string')) return undefined;
  return '"aud" must be a string or an array of strings (RFC 7519 §4.1.3)';
}

/**
 * The identity `claims[claim]` names, as a string. `sub` must be a non-empty string (RFC 7519
 * §4.1.2). Another claim may also be an integer within ±(2^53−1), read as its decimal string
 * — so `42` and `"42"` are one identity; a larger number may already have been rounded by
 * JSON parsing (two users could collide), so it is refused.
 *
 * @example
 * identityOf({ uid: 42 }, 'uid'); // { identity: '42' }
 * identityOf({ sub: 42 }, 'sub'); // { problem: '"sub" must be a string …' }
 */
export function identityOf(claims: JWTPayload, claim: string): { identity: string } | { problem: string } {
  const value = claims[claim];
  if (typeof value === 'string' && value !== '') return { identity: value };
  if (typeof value === 'number' && claim === 'sub') return { problem: '"sub" must be a string (RFC 7519 §4.1.2), not a number' };
  if (typeof value === 'number') {
    return Number.isSafeInteger(value)
      ? { identity: String(value) }
      : { problem: `"${claim}" is a number but not an integer within ±(2^53−1): it cannot name an identity exactly` };
  }
  return { problem: `no identity claim "${claim}"` };
}
