import { TABLE } from '../model/table.ts';
import type { SessionKind } from './item.ts';

/**
 * When DynamoDB's TTL may remove a session item: `retentionSeconds` after its `expires`, for an
 * API key's session. A JWT identity's session never gets one: it is the record that its trial
 * was used, so an expired trial never restarts however long ago it expired.
 */

/** Partition-key prefix of JWT identity sessions. */
const JWT_PREFIX = 'jwt#';

/** The TTL attribute of a new session of `kind` with `expires` (none: `{}`). */
export function ttlOfNew(kind: SessionKind, expires: number, retentionSeconds: number): Record<string, number> {
  return kind !== 'key' || expires <= 0 ? {} : { [TABLE.ttlAttribute]: expires + retentionSeconds };
}

/** The TTL a change naming `expires` gives the session at `pk`: `null` none, `undefined` left as it is (no `expires` named, or a JWT identity's). */
export function ttlAfterChange(pk: string, expires: number | undefined, retentionSeconds: number): number | null | undefined {
  if (expires === undefined || pk.startsWith(JWT_PREFIX)) return undefined;
  return expires > 0 ? expires + retentionSeconds : null;
}

/**
 * The TTL (epoch s) of the counter items of the session at `pk` with `expires` (`undefined`: none), the same as
 * the session item's own: a lease stays on its counter item as long as its key can spend it (docs/ARCHITECTURE.md,
 * "Hot keys", "How long a counter item lives"). A key that never expires, or a JWT identity's session, gives none.
 */
export function counterItemTtl(pk: string, expires: number | undefined, retentionSeconds: number): number | undefined {
  return pk.startsWith(JWT_PREFIX) || expires === undefined || expires <= 0 ? undefined : expires + retentionSeconds;
}
