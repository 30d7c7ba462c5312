import type { RequestTarget } from '../core/request/access-rights.ts';
import { NotFoundError, VersionConflictError } from '../core/model/errors.ts';
import { explainDecision, type Explanation } from '../core/request/explain.ts';
import { jwtSessionPkOf } from '../core/request/identify.ts';
import { InvalidInputError } from '../core/model/input-error.ts';
import { generateKey, keyIdOf, keySessionPk } from '../core/model/keys.ts';
import { parse, RotateSchema, splitKey } from './key-input.ts';
import { effectiveSettings, type Policy } from '../core/policies/policy.ts';
import type { PolicyStore } from '../core/policies/policy-store.ts';
import { OrphanPointerError } from '../core/session/key-resolution.ts';
import { SessionService } from '../core/session/service.ts';
import { decodeCursor, encodeCursor, type SessionIndex, type SessionQuery } from './session-index.ts';
import { SessionInputSchema, SessionPatchSchema, type Session } from '../core/model/session.ts';
import { isKeyPointer, type StoredSession } from '../core/store/item.ts';
import { isThrottlingError } from '../core/store/dynamo-client.ts';
import { toPublicSession } from '../core/store/public-session.ts';
import type { SessionStore } from '../core/store/store.ts';
import { tykFieldName, tykSessionToInput } from './tyk.ts';
import { withLimits } from './limits-view.ts';
import { withVersionBefore } from './version-before.ts';
import { sameLife, sameSettings } from './same-key.ts';

// Kept here too: hooks, session writes and tests import them from this module.
export { fieldProblems, InvalidInputError, type FieldProblem } from '../core/model/input-error.ts';

export { toPublicSession } from '../core/store/public-session.ts';

/** Writes of an update, replace, rotation or delete sent without `If-Match` while other writes land on the key. */
const UNCONDITIONAL_ATTEMPTS = 8;

export interface KeyServiceDeps {
  /** Policies, for `explain` and for the quota that `resetQuota` restores. @default none: the session's own limits */
  readonly policies?: PolicyStore;
  /** The indexes `list` queries. @default none: `list` fails */
  readonly index?: SessionIndex;
  /** Whether the authorizer caches results (`resultsCacheTtl > 0`), for `explain` to decide as it does. @default false */
  readonly resultsCached?: boolean;
}

export interface CreatedKey {
  readonly key: string;
  readonly keyId: string;
  readonly session: Session;
}

export interface ListQuery {
  readonly alias?: string;
  readonly limit: number;
  readonly cursor?: string;
}

/**
 * Key management: what the admin API (and through it the CLI) does, on the session service
 * that every other writer shares (`lambdas/core/session/service.ts`). Raw keys are hashed here
 * and returned once, at creation; they are never stored. A key id names an API key's session
 * or a JWT identity's (the admin API manages both).
 */
export class KeyService {
  readonly #sessions: SessionService;
  readonly #clock: () => number;
  readonly #deps: KeyServiceDeps;

  /** @param clock epoch seconds, fractions kept: windows start at the millisecond. @default Date.now() / 1000 */
  constructor(store: SessionStore, clock: () => number = () => Date.now() / 1000, deps: KeyServiceDeps = {}) {
    this.#clock = clock;
    this.#deps = deps;
    this.#sessions = new SessionService(store, (ids) => this.#policiesById(ids));
  }

  /**
   * Creates a key (generated, or imported with `key`) and its session. `quotaRemaining`
   * and `quotaRenews` default to a whole window opening now, under the limits in force
   * (its policies' when it names any).
   */
  async create(body: unknown): Promise<CreatedKey> {
    const { key: imported, ...fields } = splitKey(body);
    const input = parse(SessionInputSchema, fields);
    const key = imported ?? generateKey();
    const keyId = keyIdOf(key);
    const item = await this.#sessions.create(keySessionPk(keyId), keyId, input, this.#nowMs());
    return { key, keyId, session: await this.#public(item) };
  }

  /** Creates a key from a Tyk session object (see `tyk.ts`); bad fields are named by their Tyk names. */
  async createFromTyk(body: unknown): Promise<CreatedKey & { ignoredFields: string[] }> {
    const mapped = tykSessionToInput(body);
    if (!mapped.ok) throw new InvalidInputError(mapped.problems);
    try {
      return { ...(await this.create(mapped.input)), ignoredFields: mapped.ignored };
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      throw new InvalidInputError(error.details.map((d) => ({ ...d, field: tykFieldName(d.field) })));
    }
  }

  async get(keyId: string): Promise<Session> {
    return this.#public(await this.#read(keyId));
  }

  /** Partial update; with `ifMatch`, only at that version of this key (else `VersionConflictError`). */
  async update(keyId: string, body: unknown, ifMatch?: number): Promise<Session> {
    const patch = parse(SessionPatchSchema, body);
    const [written, versionBefore] = await this.#onLatest(keyId, ifMatch, (current) =>
      this.#sessions.update(current, patch, this.#nowMs(), ifMatch),
    );
    return withVersionBefore(await this.#answer(written), versionBefore);
  }

  /** Replaces the settings (see `SessionService.replace`: the counters stand). */
  async replace(keyId: string, body: unknown, ifMatch?: number): Promise<Session> {
    const input = parse(SessionInputSchema, body);
    const [written, versionBefore] = await this.#onLatest(keyId, ifMatch, (current) =>
      this.#sessions.replace(current, input, this.#nowMs(), ifMatch),
    );
    return withVersionBefore(await this.#answer(written), versionBefore);
  }

  /**
   * A write of the key as read: with `ifMatch`, once (a conflict is the caller's to see).
   * Without, a change landed after its read refuses it (409) unless `mayRetry` says the
   * write still means the same on the key as it is now — by default when only the version
   * and the counters moved (a reset): it is then applied to the item the conflict returned
   * (a conflict means it did not land).
   */
  async #onLatest<T>(
    keyId: string,
    ifMatch: number | undefined,
    write: (current: StoredSession) => Promise<T>,
    mayRetry: (read: StoredSession, now: StoredSession) => boolean = sameSettings,
  ): Promise<[written: T, versionBefore: number]> {
    let current = await this.#read(keyId);
    for (let attempt = 1; ; attempt++) {
      try {
        return [await write(current), current.version];
      } catch (error) {
        if (ifMatch !== undefined || !(error instanceof VersionConflictError) || attempt >= UNCONDITIONAL_ATTEMPTS) throw error;
        const now = error.current as StoredSession | undefined;
        if (now === undefined || !mayRetry(current, now)) throw error;
        current = now;
      }
    }
  }

  /** Starts new quota windows now for every scope of the key read (see `SessionService.reset`). */
  async resetQuota(keyId: string, ifMatch?: number): Promise<Session> {
    const written = await this.#sessions.reset(await this.#read(keyId), this.#nowMs(), ifMatch);
    // The reset landed: no read after it may turn that into a fault. Its answer is the session item read again (the reset
    // is not guarded by the version: whatever is there now includes it), or as the reset left it while DynamoDB throttles
    // that read (a hot key). It reads no counter item (a reset deletes them all): leases filled since count as used.
    try {
      const now = await readPatiently(() => this.#sessions.read(written.pk));
      if (now === undefined) throw new NotFoundError('no session for this key');
      return await this.#publicOf(now);
    } catch (error) {
      if (!isThrottlingError(error)) throw error;
      return this.#asWritten(written);
    }
  }

  /**
   * A new raw key for the same session (shown once): from now on both keys are one session —
   * one quota, one rate limit, one set of settings — and the key(s) used until now are
   * refused once `graceSeconds` have passed.
   */
  async rotate(keyId: string, body: unknown, ifMatch?: number): Promise<CreatedKey> {
    const { graceSeconds } = parse(RotateSchema, body ?? {});
    const key = generateKey();
    const newKeyId = keyIdOf(key);
    const [written, versionBefore] = await this.#onLatest(keyId, ifMatch, async (current) => {
      if (current.pk !== keySessionPk(current.keyId))
        throw new InvalidInputError([{ field: '(key)', message: 'only API keys rotate (a JWT identity has no key)' }]);
      return this.#sessions.rotate(current, newKeyId, graceSeconds, this.#nowMs(), ifMatch);
    });
    return withVersionBefore({ key, keyId: newKeyId, session: await this.#answer(written) }, versionBefore);
  }

  /**
   * Deletes the key read (at `ifMatch` when given). Without `If-Match` it deletes the key in
   * the life read whatever changed in it meanwhile (see `SessionService.delete`); were more
   * changes than it lets pass to land first, it tries again on the item the conflict returned.
   */
  async delete(keyId: string, ifMatch?: number): Promise<void> {
    await this.#onLatest(keyId, ifMatch, (current) => this.#sessions.delete(current, this.#nowMs(), ifMatch), sameLife).catch(
      async (error: unknown) => {
        // A rotated-in key id whose session has ended: the DELETE releases the id (its pointer ends, its versions recorded).
        if (!(error instanceof OrphanPointerError) || ifMatch !== undefined) throw error;
        await this.#sessions.endOrphanPointer(error.pointer, this.#nowMs());
      },
    );
  }

  /** One page of API keys (all, or those with `alias`), and the cursor of the next page. */
  async list(query: ListQuery): Promise<{ items: Session[]; cursor: string | null }> {
    if (this.#deps.index === undefined) throw new Error('KeyService: listing needs a SessionIndex');
    const target: SessionQuery = query.alias === undefined ? { kind: 'key' } : { alias: query.alias };
    let start;
    if (query.cursor !== undefined) {
      start = decodeCursor(query.cursor, target);
      if (start === undefined) throw new InvalidInputError([{ field: 'cursor', message: 'is not a cursor of this listing' }]);
    }
    const page = await this.#deps.index.query(target, query.limit, start);
    const items = await Promise.all(page.items.map((item) => this.#public(item)));
    return { items, cursor: page.next === undefined ? null : encodeCursor(page.next) };
  }

  /**
   * The decision a request to `target` would get at `at` (epoch s, default now), consuming
   * nothing, with the authorizer's own inputs (`resultsCached`, see {@link KeyServiceDeps}).
   */
  async explain(keyId: string, target: RequestTarget, at: number = Math.floor(this.#clock())): Promise<Explanation & { session: Session }> {
    // As the authorizer counts: a hot key's requests still leased to its counter items are not used yet.
    const current = await this.#sessions.counted(await this.#read(keyId));
    const policies = await this.#policiesById(current.applyPolicies ?? []);
    const explanation = explainDecision(current, policies, target, at * 1000, { resultsCached: this.#deps.resultsCached ?? false });
    return { ...explanation, session: await this.#publicOf(current) };
  }

  /**
   * The answer to a write: the session as it is now (a strong read: the counters may have
   * moved since the write's read), or as written if it is already gone again. Its caller marks
   * it with the version the write was checked against (`withVersionBefore`, for the audit line).
   * The write has landed: when DynamoDB throttles the reads after it (a hot key's items), the
   * answer is the key as written, marked `asWritten` (see `Session`), rather than a fault for a
   * change that was made (a rotation's new key is shown only in this answer).
   */
  async #answer(written: StoredSession): Promise<Session> {
    try {
      const now = await this.#sessions.read(written.pk);
      // The key as it is (its counters fresh) when nothing else changed it since; else as this write left it, at its version.
      return await this.#public(now !== undefined && now.version === written.version ? now : written);
    } catch (error) {
      if (!isThrottlingError(error)) throw error;
      return this.#asWritten(written);
    }
  }

  /** A change that landed, answered as it wrote the key while DynamoDB throttles the reads after it (see `Session.asWritten`). */
  async #asWritten(written: StoredSession): Promise<Session> {
    const policies = await this.#policiesById(written.applyPolicies ?? []).catch((again: unknown) => {
      if (isThrottlingError(again)) return undefined;
      throw again;
    });
    return { ...(await this.#publicOf(written, policies ?? [])), asWritten: policies === undefined ? 'without-policies' : 'counts' };
  }

  /** The public session, its `quotaRemaining` read under the limits in force, and those limits with their sources. */
  async #public(stored: StoredSession): Promise<Session> {
    return this.#publicOf(await this.#sessions.counted(stored));
  }

  /** {@link #public} of a session already counted (under `policies`, else its own, read now). */
  async #publicOf(item: StoredSession, applied?: Policy[]): Promise<Session> {
    const policies = applied ?? (await this.#policiesById(item.applyPolicies ?? []));
    const nowMs = this.#nowMs();
    return withLimits(toPublicSession(item, effectiveSettings(item, policies).limits, nowMs), item, policies, nowMs);
  }

  /**
   * The session a key id names: an API key's (following a rotated-in key's pointer to the
   * session it uses), else a JWT identity's.
   */
  async #read(keyId: string): Promise<StoredSession> {
    const item = await readPatiently(
      async () => (await this.#sessions.resolveKey(keyId)).item ?? (await this.#sessions.read(jwtSessionPkOf(keyId))),
    );
    if (item === undefined || isKeyPointer(item)) throw new NotFoundError('no key with this id');
    return item;
  }

  #nowMs(): number {
    return Math.round(this.#clock() * 1000);
  }

  /** Strong reads of policies (the admin's PolicyStore does not cache). */
  async #policiesById(ids: readonly string[]): Promise<Policy[]> {
    if (ids.length === 0 || this.#deps.policies === undefined) return [];
    return (await this.#deps.policies.getMany([...ids])).policies;
  }
}

/** Attempts of an admin read that DynamoDB throttles (about 1.5 s of pauses in all, within the admin function's 10 s). */
const READ_ATTEMPTS = 6;

/**
 * `read`, tried again after a growing pause while DynamoDB throttles it: a hot key's session
 * item is read by every instance counting on it, and an operator's change of that key (a
 * reset under load, say) should not fail on its first read. A read changes nothing.
 */
async function readPatiently<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!isThrottlingError(error) || attempt >= READ_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt * (0.5 + Math.random())));
    }
  }
}
