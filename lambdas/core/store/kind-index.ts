/**
 * The values of the `kind` attribute, the partition key of `kind-index` (KEYS_ONLY, sorted
 * by `pk`), which lists one kind of item without a table scan.
 *
 * Sessions are created on the authorization path (a JWT identity's first request, an `auth`
 * hook's first sight of a key), so their index entries must not share one partition value:
 * every write of a global secondary index lands on the partition of its key value, one
 * partition takes at most 1,000 writes per second, and a throttled index write throttles the
 * table write that caused it. A session's `kind` is therefore spread over
 * {@link KIND_SHARD_DIGITS} values by the first hex digit of the hash in its `pk` —
 * `key#0` … `key#f`, `jwt#0` … `jwt#f` — and a listing queries the shards in order. The hash
 * is uniform, and shard `key#3` holds exactly the pks starting `key#3`, so the shards read in
 * order list keys in `pk` order. Policies, written only by admins, keep `kind = "policy"`.
 */

/** The hex digits a shard is named by. */
export const KIND_SHARD_DIGITS = '0123456789abcdef';

/** Session kinds, as the first segment of a session's `pk`. */
export type SessionKind = 'key' | 'jwt';

/** The `kind` gatepass wrote for API-key sessions before the shards, still listed (first). */
export const LEGACY_KEY_KIND = 'key';

const SESSION_PK = /^(key|jwt)#([0-9a-f])[0-9a-f]{63}$/;

/**
 * The `kind` to write on a new session item, from its `pk`.
 *
 * @example
 * sessionIndexKind('key#3fa9…'); // 'key#3'
 */
export function sessionIndexKind(pk: string): string {
  const match = SESSION_PK.exec(pk);
  if (match === null) throw new Error(`not a session pk: ${pk.slice(0, 8)}…`);
  return `${match[1]}#${match[2]}`;
}

/**
 * Every `kind` value that holds sessions of `kind`, in listing order: for API keys the
 * legacy unsharded value first, then the shards `key#0` … `key#f`.
 */
export function sessionIndexKinds(kind: SessionKind): readonly string[] {
  const shards = [...KIND_SHARD_DIGITS].map((digit) => `${kind}#${digit}`);
  return kind === 'key' ? [LEGACY_KEY_KIND, ...shards] : shards;
}
