import { createHash, randomBytes } from 'node:crypto';

/** Prefix of generated keys: makes a leaked key findable by secret scanners. */
export const KEY_PREFIX = 'gp_';

/** Shortest key a caller may import. */
export const MIN_IMPORTED_KEY_LENGTH = 16;

/** Longest credential worth hashing; anything longer is junk and is denied unread. */
export const MAX_KEY_LENGTH = 1024;

/**
 * A new random API key: `gp_` + 32 random bytes in base64url.
 *
 * @example
 * generateKey(); // 'gp_q5bB2k…' (46 characters)
 */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** Hex SHA-256 of a string (UTF-8). */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The id a raw key is stored and logged under: lowercase hex SHA-256 of the key. */
export function keyIdOf(rawKey: string): string {
  return sha256Hex(rawKey);
}

/**
 * The only form of a raw key that may appear in a log line: its last four characters
 * behind asterisks, as Tyk logs them. The key id (a SHA-256) may be logged in full: it is
 * what operators look a key up by, and it does not reveal the key.
 *
 * @example
 * maskKey('5976507eb46f2e00016bb4a13a4e7ca913238ee243102a32d27e56bc'); // '****56bc'
 */
export function maskKey(key: string): string {
  return '****' + key.slice(-4);
}

/** The DynamoDB partition key of an API key's session. */
export function keySessionPk(keyId: string): string {
  return `key#${keyId}`;
}
