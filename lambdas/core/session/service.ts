import type { Limits } from '../limits/limits.ts';
import { counterAttributes, type CounterScope } from '../limits/scope.ts';
import { AlreadyExistsError, ContentionError, NotFoundError, VersionConflictError } from '../model/errors.ts';
import { InvalidInputError } from '../model/input-error.ts';
import { keySessionPk } from '../model/keys.ts';
import type { SessionPatch } from '../model/session.ts';
import { effectiveSettings, type PolicySubject } from '../policies/effective.ts';
import type { Policy } from '../policies/policy.ts';
import {
  quotaCounters,
  type KeyPointer,
  type CounterSet,
  type SessionKind,
  type SessionSettings,
  type SettingsChanges,
  type SettingsGuard,
  type StoredSession,
  type WriteGuard,
} from '../store/item.ts';
import type { SessionChange, SessionStore } from '../store/store.ts';
import { changedSettings, checkRatePer, type SessionInputFields, settingsOf, versionOf } from './inputs.ts';
import { resolveKey, type ResolvedKey } from './key-resolution.ts';

export type { SessionInputFields } from './inputs.ts';

/** The policies of a session, looked up by id (the admin reads them strongly; the authorizer through its cache). */
export type PolicyLookup = (ids: readonly string[]) => Promise<readonly Policy[]>;

/** Most keys that may use one session at once (the current one and those in their grace). */
const MAX_KEYS = 10;
/** Versions a delete without `If-Match` lets land between its read and its write (DynamoDB takes about 500 changes a second on one item). */
const DELETE_SLACK = 1000;

/** Attempts of a create-or-replace before giving up (each failure means another writer won). */
const MAX_PUT_ATTEMPTS = 5;

/**
 * THE session service: every change to a session — admin create, update, replace, reset and
 * delete, a plugin's `updateSession` and `sessions.set`, an auth hook's session, a JWT
 * identity's first sight — goes through here, so each rule lives once:
 *
 * - a change of limits never touches a counter (the window rule of `limits.ts` keeps the
 *   count of the window in progress, wherever the limits come from);
 * - counters change only when the caller names them (`quotaRemaining`, `quotaRenews`, a
 *   reset), read under the limits in force after the change;
 * - every write is guarded by the life of the key read, and by its version unless it is a
 *   reset (`WriteGuard`); a delete records its life's last version, and a session created
 *   again under the same key starts above it (`past-lives.ts`);
 * - a rate limit needs a window.
 *
 * Methods that write return the item as it is after the write: the settings exactly (the
 * guard held), the counters as read plus those written (others may have counted since:
 * callers that decide on it treat its counters as unknown).
 */
export class SessionService {
  readonly #store: SessionStore;
  readonly #policies: PolicyLookup;

  constructor(store: SessionStore, policies: PolicyLookup = async () => []) {
    this.#store = store;
    this.#policies = policies;
  }

  /** Strongly consistent read. */
  read(pk: string): Promise<StoredSession | undefined> {
    return this.#store.get(pk);
  }

  /** The session as requests have used it (a hot key's unspent leases not counted), for reading only: see `SessionStore.counted`. */
  counted(item: StoredSession): Promise<StoredSession> {
    return this.#store.counted(item);
  }

  /** Where the session of the API key `keyId` lives: see `key-resolution.ts`. */
  resolveKey(keyId: string): Promise<ResolvedKey> {
    return resolveKey(this.#store, keyId);
  }

  /** Ends a rotated-in key's pointer that outlived its session (see `OrphanPointerError`). */
  endOrphanPointer(pointer: KeyPointer, nowMs: number): Promise<void> {
    return this.#store.endOrphanPointer(pointer, Math.floor(nowMs / 1000));
  }

  /** The limits in force for a session's own scope: its policies' when it names any. */
  async limitsOf(session: PolicySubject): Promise<Limits> {
    return effectiveSettings(session, await this.#policies(session.applyPolicies ?? [])).limits;
  }

  /**
   * Creates a session; its quota window starts now unless `quotaRenews` names another end,
   * and `quotaRemaining` is read under the limits in force (its policies' when it names any).
   */
  async create(pk: string, keyId: string, input: SessionInputFields, nowMs: number, kind: SessionKind = 'key'): Promise<StoredSession> {
    const now = Math.floor(nowMs / 1000);
    const settings = settingsOf(input, now);
    const counters = await this.#newCounters(settings, input, nowMs);
    return this.#store.create(pk, keyId, settings, counters, now, kind);
  }

  /** Creates the session, or — when a concurrent first request created it — uses that one (for a caller that just read none). */
  async createOrUse(
    pk: string,
    keyId: string,
    input: SessionInputFields,
    nowMs: number,
    kind: SessionKind = 'key',
  ): Promise<StoredSession> {
    try {
      return await this.create(pk, keyId, input, nowMs, kind);
    } catch (error) {
      if (!(error instanceof AlreadyExistsError) || error.current === undefined) throw error;
      return error.current as StoredSession;
    }
  }

  /**
   * Partial update of `current` at its version (or `ifMatch`). Settings change; the counters
   * stand, unless the patch names `quotaRemaining` or `quotaRenews` (read under the limits in
   * force after the patch).
   */
  async update(current: StoredSession, patch: SessionPatch, nowMs: number, ifMatch?: number): Promise<StoredSession> {
    const {
      keyId: _k,
      createdAt: _c,
      updatedAt: _u,
      version: _v,
      keys: _keys,
      limits: _limits,
      quotaRemaining,
      quotaRenews,
      ...changes
    } = patch;
    const settings = changes as SettingsChanges;
    checkRatePer(settings.rate ?? current.rate, settings.per ?? current.per);
    const limits = await this.limitsOf({ ...current, ...settings } as PolicySubject);
    return this.#change(current, { settings, counters: quotaCounters(limits, quotaRemaining, quotaRenews) }, nowMs, ifMatch);
  }

  /**
   * Replaces the settings: fields left out get a new session's defaults (an omitted alias is
   * removed). `quotaRemaining` and `quotaRenews` are read-only here, like `version`: a body
   * saved back from a GET must never give quota back.
   */
  async replace(current: StoredSession, input: SessionInputFields, nowMs: number, ifMatch?: number): Promise<StoredSession> {
    const settings = settingsOf(input, Math.floor(nowMs / 1000));
    return this.#change(current, { settings: { ...settings, alias: settings.alias ?? null } }, nowMs, ifMatch);
  }

  /**
   * Creates or replaces a session — `TykSetKeyData`, and an auth hook's session. A new
   * session gets the counters the input names (default: a whole window starting now); an
   * existing one keeps its counters, as an admin PUT does: a plugin that saves back the
   * session it read (or answers the same session on every request) never gives quota back.
   * Counters change only through an explicit `updateSession({ quotaRemaining })`.
   *
   * An input naming a `version` (a session read and saved back) is written only at that
   * version of the key, as a PUT with `If-Match`, so it never undoes a change it has not seen:
   * a key changed since is refused (`VersionConflictError`), one deleted is not created again
   * (`NotFoundError`; a life created since starts above every version of the last). Without
   * `version`: created or replaced, tried again on the fresh item when another writer got there first.
   */
  async put(pk: string, keyId: string, input: SessionInputFields, nowMs: number): Promise<StoredSession> {
    const ifMatch = versionOf(input.version);
    let current = await this.#store.get(pk);
    if (ifMatch !== undefined && current === undefined) throw new NotFoundError(`no session for this key (read at version ${ifMatch})`);
    for (let attempt = 1; attempt <= MAX_PUT_ATTEMPTS; attempt++) {
      try {
        if (current === undefined) return await this.create(pk, keyId, input, nowMs);
        return await this.replace(current, input, nowMs, ifMatch);
      } catch (error) {
        if (ifMatch !== undefined) throw error; // once, at the version read
        if (error instanceof AlreadyExistsError) current = error.current as StoredSession | undefined;
        else if (error instanceof VersionConflictError) current = error.current as StoredSession;
        else if (error instanceof NotFoundError) current = await this.#store.get(pk);
        else throw error;
      }
    }
    throw new ContentionError(`session of ${pk} kept changing during ${MAX_PUT_ATTEMPTS} attempts`);
  }

  /**
   * Starts new quota windows now, nothing used, for the key's own quota and each API with a
   * limit of its own (in force now, or counted before). Guarded by the key's life (and `ifMatch` when given), not by its
   * version: settings traffic never refuses a reset. Like every change it moves the version,
   * so `If-Match` sees it: a reset re-sent after a failed answer with the same `If-Match` is
   * refused (409) instead of erasing what was counted since the first one landed; requests in
   * flight decide again on the new version. Applied once, even when its answer is lost.
   * Answers the key as the reset left it, without reading it: its version is the one read + 1,
   * exact with `ifMatch`, else a lower bound (the reset is not guarded by the version, so a
   * change between the read and the reset lands under it).
   */
  async reset(current: StoredSession, nowMs: number, ifMatch?: number): Promise<StoredSession> {
    const settings = effectiveSettings(current, await this.#policies(current.applyPolicies ?? []));
    // Every scope: those in force, and those counted before (a per-API limit removed now may come back).
    const apis = new Set(Object.entries(settings.accessRights).flatMap(([apiId, right]) => (right.limit === undefined ? [] : [apiId])));
    for (const name of Object.keys(current)) if (name.startsWith('quotaUsed@')) apis.add(name.slice('quotaUsed@'.length));
    const scopes: CounterScope[] = ['key', ...[...apis].map((apiId) => ({ apiId }))];
    const counters: Record<string, number> = {};
    for (const scope of scopes) {
      const names = counterAttributes(scope);
      counters[names.quotaUsed] = 0;
      counters[names.quotaStart] = nowMs;
    }
    const now = Math.floor(nowMs / 1000);
    await this.#store.change(current.pk, guard(current, ifMatch, false), { counters }, now);
    return { ...current, ...counters, version: current.version + 1, updatedAt: now };
  }

  /**
   * Rotates the key of `current`: a new key (`newKey`, its id `newKeyId`) that uses the same
   * session — one set of settings, one count — from now on, and every key that used it until
   * now retires `graceSeconds` from now (0: at once). One transaction: the session's
   * `keyIds` (a setting, so requests in flight decide again) and the new key's pointer.
   */
  async rotate(current: StoredSession, newKeyId: string, graceSeconds: number, nowMs: number, ifMatch?: number): Promise<StoredSession> {
    const now = Math.floor(nowMs / 1000);
    const keyIds: Record<string, number> = {};
    const retired: string[] = [];
    for (const [keyId, retires] of Object.entries(current.keyIds ?? { [current.keyId]: 0 })) {
      if (retires === 0) keyIds[keyId] = now + graceSeconds;
      else if (retires > now) keyIds[keyId] = Math.min(retires, now + graceSeconds);
      else if (keyId !== current.keyId) retired.push(keySessionPk(keyId)); // its grace is over: its pointer goes
    }
    keyIds[newKeyId] = 0;
    if (Object.keys(keyIds).length > MAX_KEYS) {
      throw new InvalidInputError([
        {
          field: 'graceSeconds',
          message: `at most ${MAX_KEYS} keys may use a session at once: wait for a grace to end, or rotate with a shorter grace`,
        },
      ]);
    }
    const g: SettingsGuard = { ...guard(current, ifMatch, false), version: current.version };
    const pointer = { pk: keySessionPk(newKeyId), keyId: newKeyId, sessionPk: current.pk };
    await this.#store.changeWithPointer(current.pk, g, { settings: { keyIds } }, pointer, retired, now);
    return { ...current, keyIds, version: g.version + 1, updatedAt: now };
  }

  /**
   * Deletes `current` — in its life, and at `ifMatch` when given (a conflict is the caller's
   * to see) — and the keys rotated into it, recording the last version its life can have
   * reached: `ifMatch`, or, without it, up to {@link DELETE_SLACK} above the version read (the
   * delete lands on any version up to that, so changes landing meanwhile do not refuse it;
   * a rotation does, as the keys it ends are those read). A session created again under its
   * key starts above the record.
   */
  delete(current: StoredSession, nowMs: number, ifMatch?: number): Promise<void> {
    const last = ifMatch ?? current.version + DELETE_SLACK;
    return this.#store.delete(current.pk, guard(current, ifMatch, false), last, Math.floor(nowMs / 1000), current.keyIds);
  }

  /** A settings change of `current` at its version (or `ifMatch`); returns the item after it. */
  async #change(current: StoredSession, change: SessionChange, nowMs: number, ifMatch?: number): Promise<StoredSession> {
    const now = Math.floor(nowMs / 1000);
    const g = guard(current, ifMatch, true);
    // The write lands only on `current` (its version): naming only what differs keeps a hot key's leases when no limit changes.
    const settings = change.settings === undefined ? undefined : changedSettings(current, change.settings);
    if (!(await this.#store.change(current.pk, g, { ...change, settings }, now))) return current;
    const after: Record<string, unknown> = { ...current, ...change.counters, version: g.version! + 1, updatedAt: now };
    for (const [field, value] of Object.entries(change.settings ?? {})) {
      if (value === null) delete after[field];
      else if (value !== undefined) after[field] = value;
    }
    return after as unknown as StoredSession;
  }

  /** A new session's counters: a window starting now, or the one `quotaRenews`/`quotaRemaining` name. */
  async #newCounters(settings: SessionSettings, input: SessionInputFields, nowMs: number): Promise<CounterSet> {
    const limits = await this.limitsOf(settings);
    return { quotaUsed: 0, quotaStart: nowMs, ...quotaCounters(limits, input.quotaRemaining, input.quotaRenews) };
  }
}

/** The guard of a write on `current`: its life, and its version (or `ifMatch`) where the write needs one. */
function guard(current: StoredSession, ifMatch: number | undefined, needsVersion: boolean): WriteGuard {
  // Only a session is written as one (never a rotated-in key's pointer, say).
  if (typeof current.version !== 'number') throw new NotFoundError('no session for this key');
  // The item read is the caller's view of the key: an `If-Match` that is not its version cannot hold.
  if (ifMatch !== undefined && ifMatch !== current.version)
    throw new VersionConflictError(`session changed concurrently (expected version ${ifMatch}, found ${current.version})`, current);
  const version = needsVersion || ifMatch !== undefined ? current.version : undefined;
  const seen = { incarnation: current.incarnation, shards: current.shards ?? 0, expires: current.expires ?? 0 };
  return { ...seen, ...(version === undefined ? {} : { version }) };
}
