import { InvalidInputError, fieldProblems } from '../model/input-error.ts';
import { keyIdOf } from '../model/keys.ts';
import { unstorable } from '../model/storable.ts';
import { preloadUrlPatterns } from '../model/url-pattern-engine.ts';
import { OrphanPointerError } from '../session/key-resolution.ts';
import type { SessionInputFields, SessionService } from '../session/service.ts';
import { keyAccepted, type StoredSession } from '../store/item.ts';

/**
 * Creates or replaces the session of a raw key (`TykSetKeyData`): a full replacement with
 * the defaults of a new session and the counters it names (default: a whole window starting
 * now), written through the session service. Returns the item as written.
 */
export async function setSession(sessions: SessionService, key: string, init: unknown, nowMs: number): Promise<StoredSession> {
  await preloadUrlPatterns(init); // its schema checks URL patterns
  const input = await parseStorable(init);
  // A rotated-in key's session is the one its pointer names.
  const { pk, keyId, item } = await sessions.resolveKey(keyIdOf(key));
  // A key a rotation retired writes nothing: the session is its new key's now.
  if (item !== undefined && !keyAccepted(item, keyIdOf(key), Math.floor(nowMs / 1000))) throw new RetiredKeyError();
  return sessions.put(pk, keyId, input, nowMs);
}

/** A session write named a key that a rotation has retired (its grace over). */
export class RetiredKeyError extends Error {
  constructor() {
    super('this key was retired by a rotation: its session takes only the keys that replaced it');
    this.name = 'RetiredKeyError';
  }
}

/** `undefined` for a {@link RetiredKeyError} (nothing was written), any other error thrown again. */
export function unlessRetired(error: unknown): undefined {
  if (error instanceof RetiredKeyError) return undefined;
  throw error;
}

/**
 * Creates the session of a raw key only if it has none (first sight). Concurrent first
 * requests make exactly one; the others use it, counters untouched.
 */
export async function createSessionOnce(sessions: SessionService, key: string, init: unknown, nowMs: number): Promise<StoredSession> {
  const { pk, keyId, item } = await sessions.resolveKey(keyIdOf(key));
  if (item !== undefined) return item;
  await preloadUrlPatterns(init);
  return sessions.createOrUse(pk, keyId, await parseStorable(init), nowMs);
}

/** A session input that parses and that DynamoDB can store as given. */
async function parseStorable(init: unknown): Promise<SessionInputFields> {
  const problems = unstorable(init);
  if (problems.length > 0) throw new InvalidInputError(problems);
  const { SessionInputSchema } = await import('../model/session.ts'); // zod: loaded on the first write, not at start-up
  const parsed = SessionInputSchema.safeParse(init);
  if (!parsed.success) throw new InvalidInputError(fieldProblems(parsed.error));
  return parsed.data;
}

/** The session of a raw key (a rotated-in key's: the one it uses, none once it has ended), read consistently (`TykGetKeyData`). */
export async function getSession(sessions: SessionService, key: string): Promise<StoredSession | undefined> {
  return (
    await sessions.resolveKey(keyIdOf(key)).catch((error: unknown) => {
      if (error instanceof OrphanPointerError) return { item: undefined };
      throw error;
    })
  ).item;
}
