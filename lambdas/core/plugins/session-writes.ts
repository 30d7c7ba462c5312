import { AlreadyExistsError, ContentionError, NotFoundError, VersionConflictError } from '../model/errors.ts';
import { InvalidInputError, fieldProblems } from '../model/input-error.ts';
import { keyIdOf, keySessionPk } from '../model/keys.ts';
import { unstorable } from '../model/storable.ts';
import { preloadUrlPatterns } from '../model/url-pattern-engine.ts';
import { newSessionFields, SessionInputSchema } from '../model/session.ts';
import { guardOf, storedFields, type StoredSession } from '../store/item.ts';
import type { SessionStore } from '../store/store.ts';

/** Attempts of a create-or-replace before giving up (each failure means another writer won). */
const MAX_SET_ATTEMPTS = 5;

/**
 * Creates or replaces the session of a raw key (`TykSetKeyData`): a full replacement with
 * the defaults of a new session, written conditionally — `attribute_not_exists` when there
 * is none, the read version otherwise — and retried on the fresh item when a concurrent
 * writer got there first. Returns the item as written.
 */
export async function setSession(store: SessionStore, key: string, init: unknown, now: number): Promise<StoredSession> {
  await preloadUrlPatterns(init);
  const parsed = parseStorable(init);
  if (!parsed.success) throw new InvalidInputError(fieldProblems(parsed.error));
  // A replacement writes the counters too: `quotaRemaining` (default: the whole quota) and `quotaRenews`.
  const { settings, counters } = storedFields(newSessionFields(parsed.data, now));
  const keyId = keyIdOf(key);
  const pk = keySessionPk(keyId);

  let current = await store.get(pk);
  for (let attempt = 1; attempt <= MAX_SET_ATTEMPTS; attempt++) {
    try {
      if (current === undefined) return await store.create(pk, keyId, settings, counters, now);
      return await store.updateSettings(pk, { ...settings, alias: settings.alias ?? null }, counters, now, guardOf(current));
    } catch (error) {
      if (error instanceof AlreadyExistsError) current = await store.get(pk);
      else if (error instanceof VersionConflictError) current = error.current as StoredSession;
      else if (error instanceof NotFoundError) current = undefined;
      else throw error;
    }
  }
  throw new ContentionError(`session of ${pk} kept changing during ${MAX_SET_ATTEMPTS} attempts`);
}

/**
 * Creates the session of a raw key only if it has none (first sight). Concurrent first
 * requests make exactly one; the others use it, counters untouched.
 */
export async function createSessionOnce(store: SessionStore, key: string, init: unknown, now: number): Promise<StoredSession> {
  const keyId = keyIdOf(key);
  const pk = keySessionPk(keyId);
  const existing = await store.get(pk);
  if (existing !== undefined) return existing;
  await preloadUrlPatterns(init);
  const parsed = parseStorable(init);
  if (!parsed.success) throw new InvalidInputError(fieldProblems(parsed.error));
  try {
    const { settings, counters } = storedFields(newSessionFields(parsed.data, now));
    return await store.create(pk, keyId, settings, counters, now);
  } catch (error) {
    if (!(error instanceof AlreadyExistsError)) throw error;
    const winner = await store.get(pk);
    if (winner === undefined) throw error;
    return winner;
  }
}

/** A session input that parses and that DynamoDB can store as given. */
function parseStorable(init: unknown): ReturnType<typeof SessionInputSchema.safeParse> {
  const problems = unstorable(init);
  if (problems.length > 0) throw new InvalidInputError(problems);
  return SessionInputSchema.safeParse(init);
}

/** The session of a raw key, read consistently (`TykGetKeyData`). */
export function getSession(store: SessionStore, key: string): Promise<StoredSession | undefined> {
  return store.get(keySessionPk(keyIdOf(key)));
}
