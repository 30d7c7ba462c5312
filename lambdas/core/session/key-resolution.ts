import { keySessionPk } from '../model/keys.ts';
import { NotFoundError } from '../model/errors.ts';
import { isKeyPointer, namesKey, type KeyPointer, type StoredSession } from '../store/item.ts';
import type { SessionStore } from '../store/store.ts';

/**
 * A rotated-in key id whose pointer outlived the session it names: that session ended by its
 * TTL (which deletes the session item and nothing else), or was created again since without
 * this key. The key id has no session, and none may be read, changed or made through the
 * pointer (it would revive the key the rotation retired); a DELETE of the key id ends it.
 */
export class OrphanPointerError extends NotFoundError {
  constructor(readonly pointer: KeyPointer) {
    super('no key with this id (its session has ended): DELETE it to release the id');
  }
}

/** Where the session of the API key `keyId` lives, and the session read there (`undefined`: none). */
export interface ResolvedKey {
  readonly pk: string;
  readonly keyId: string;
  readonly item: StoredSession | undefined;
}

/**
 * Where the session of the API key `keyId` lives: its own partition key, or — for a key made
 * by a rotation — the session its pointer names (with that session's key id), while that
 * session still names the key (`namesKey`, the rule the authorizer's `keyAccepted` also
 * starts from); else {@link OrphanPointerError}. Two consistent reads at most.
 */
export async function resolveKey(store: SessionStore, keyId: string): Promise<ResolvedKey> {
  const own = keySessionPk(keyId);
  const item = await store.get(own);
  if (!isKeyPointer(item)) return { pk: own, keyId, item };
  const session = await store.get(item.sessionPk);
  if (session === undefined || !namesKey(session, keyId)) throw new OrphanPointerError(item);
  return { pk: item.sessionPk, keyId: session.keyId, item: session };
}
