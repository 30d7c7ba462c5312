import type * as z from 'zod';
import type { RequestTarget } from '../core/request/access-rights.ts';
import { quotaUsedFor, type Limits } from '../core/limits/limits.ts';
import { counterAttributes, type CounterScope } from '../core/limits/scope.ts';
import { NotFoundError } from '../core/model/errors.ts';
import { RATE_NEEDS_PER, rateWithoutPer } from '../core/model/limit-rules.ts';
import { explainDecision, type Explanation } from '../core/request/explain.ts';
import { fieldProblems, InvalidInputError } from '../core/model/input-error.ts';
import { generateKey, keyIdOf, keySessionPk, MIN_IMPORTED_KEY_LENGTH } from '../core/model/keys.ts';
import { effectiveSettings, type Policy, type PolicySubject } from '../core/policies/policy.ts';
import type { PolicyStore } from '../core/policies/policy-store.ts';
import { decodeCursor, encodeCursor, type SessionIndex, type SessionQuery } from './session-index.ts';
import { newSessionFields, SessionInputSchema, SessionPatchSchema, type Session, type SessionPatch } from '../core/model/session.ts';
import { storedFields, type CounterSet, type SettingsChanges, type SettingsGuard, type StoredSession } from '../core/store/item.ts';
import { toPublicSession } from '../core/store/public-session.ts';
import type { SessionStore } from '../core/store/store.ts';
import { tykFieldName, tykSessionToInput } from './tyk.ts';
import { withLimits } from './limits-view.ts';

// Kept here too: hooks, session writes and tests import them from this module.
export { fieldProblems, InvalidInputError, type FieldProblem } from '../core/model/input-error.ts';

export { toPublicSession } from '../core/store/public-session.ts';

export interface KeyServiceDeps {
  /** Policies, for `explain` and for the quota that `resetQuota` restores. @default none: the session's own limits */
  readonly policies?: PolicyStore;
  /** The indexes `list` queries. @default none: `list` fails */
  readonly index?: SessionIndex;
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
 * Key management on top of the store: what the admin API (and through it the CLI) does.
 * Raw keys are hashed here and returned once, at creation; they are never stored. Every
 * write is conditional: a replace, update or quota reset is guarded by the version the
 * caller names (`If-Match`) or else by the version just read, so a concurrent change is
 * never silently overwritten.
 */
export class KeyService {
  readonly #store: SessionStore;
  readonly #clock: () => number;
  readonly #deps: KeyServiceDeps;

  constructor(store: SessionStore, clock: () => number = () => Math.floor(Date.now() / 1000), deps: KeyServiceDeps = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#deps = deps;
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
    const now = this.#clock();
    const limits = await this.#limitsOf({ ...input, applyPolicies: input.applyPolicies });
    const { settings } = storedFields(newSessionFields(input, now));
    const counters = {
      quotaUsed: input.quotaRemaining === undefined ? 0 : quotaUsedFor(limits.quotaMax, input.quotaRemaining),
      quotaRenews: input.quotaRenews ?? now + limits.quotaRenewalRate,
    };
    const item = await this.#store.create(keySessionPk(keyId), keyId, settings, counters, now);
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

  /**
   * Partial update; with `ifMatch`, only at that version of this key (else
   * `VersionConflictError`). Settings change; the counters stand, and are judged by the new
   * limits, unless the patch names `quotaRemaining` (read under the limits in force after
   * the patch) or `quotaRenews`.
   */
  async update(keyId: string, body: unknown, ifMatch?: number): Promise<Session> {
    const { quotaRemaining, quotaRenews, ...changes } = stripReadOnly(parse(SessionPatchSchema, body));
    const current = await this.#read(keyId);
    checkRatePer(changes.rate ?? current.rate, changes.per ?? current.per);
    const counters = await this.#counters(current, { ...current, ...changes } as StoredSession, quotaRemaining, quotaRenews);
    const item = await this.#store.updateSettings(keySessionPk(keyId), changes, counters, this.#clock(), guardAt(current, ifMatch));
    return this.#public(item);
  }

  /**
   * Replaces the settings: fields left out get a new session's defaults (an omitted alias
   * is removed). `createdAt` and the counters stand: `quotaRemaining` and `quotaRenews` in
   * the body are read-only here, like `version` — a body saved back from a GET must never
   * give quota back. Counters are set with PATCH or reset-quota.
   */
  async replace(keyId: string, body: unknown, ifMatch?: number): Promise<Session> {
    const input = parse(SessionInputSchema, body);
    const current = await this.#read(keyId);
    const now = this.#clock();
    const { settings } = storedFields(newSessionFields(input, now));
    const counters = await this.#counters(current, { ...current, ...settings } as StoredSession, undefined, undefined);
    const item = await this.#store.updateSettings(
      keySessionPk(keyId),
      { ...settings, alias: settings.alias ?? null },
      counters,
      now,
      guardAt(current, ifMatch),
    );
    return this.#public(item);
  }

  /**
   * Starts new quota windows now: nothing used, `quotaRenews` = now + the renewal rate in
   * force (the policies' when the key has any), for the key's own quota and for each API
   * with a limit of its own. The settings version is unchanged, so requests in flight are
   * not disturbed; `ifMatch` still guards it when given. A reset that finds another reset
   * landed since its read answers with that one's result.
   */
  async resetQuota(keyId: string, ifMatch?: number): Promise<Session> {
    const current = await this.#read(keyId);
    const settings = effectiveSettings(current, await this.#policiesOf(current));
    const now = this.#clock();
    const counters: Record<string, number> = {};
    const scopes: { scope: CounterScope; renewal: number }[] = [{ scope: 'key', renewal: settings.limits.quotaRenewalRate }];
    for (const [apiId, right] of Object.entries(settings.accessRights)) {
      if (right.limit !== undefined) scopes.push({ scope: { apiId }, renewal: right.limit.quotaRenewalRate });
    }
    for (const { scope, renewal } of scopes) {
      const names = counterAttributes(scope);
      counters[names.quotaUsed] = 0;
      counters[names.quotaRenews] = now + renewal;
    }
    // Guarded by the resets read: a copy re-sent after a lost answer never applies twice (see resetCounters).
    const guard = ifMatch === undefined ? undefined : guardAt(current, ifMatch);
    const item = await this.#store.resetCounters(keySessionPk(keyId), counters, current.resets ?? 0, guard);
    return this.#public(item);
  }

  async delete(keyId: string, ifMatch?: number): Promise<void> {
    const guard = ifMatch === undefined ? undefined : guardAt(await this.#read(keyId), ifMatch);
    const deleted = await this.#store.delete(keySessionPk(keyId), guard);
    if (!deleted) throw new NotFoundError('no key with this id');
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

  /** The decision a request to `target` would get at `at` (epoch s, default now), consuming nothing. */
  async explain(keyId: string, target: RequestTarget, at: number = this.#clock()): Promise<Explanation & { session: Session }> {
    const current = await this.#read(keyId);
    const explanation = explainDecision(current, await this.#policiesOf(current), target, at * 1000);
    return { ...explanation, session: await this.#public(current) };
  }

  /** The public session, its `quotaRemaining` read under the limits in force, and those limits with their sources. */
  async #public(item: StoredSession): Promise<Session> {
    const policies = await this.#policiesOf(item);
    const now = this.#clock();
    return withLimits(toPublicSession(item, effectiveSettings(item, policies).limits, now), item, policies, now);
  }

  /**
   * The counters a settings write sets: those the caller names (`quotaRemaining` read under
   * the limits of `after`, the session as it will be), and a window end when a quota that
   * never renewed starts to renew — its one window then runs from now, count kept.
   */
  async #counters(
    before: StoredSession,
    after: StoredSession,
    quotaRemaining: number | undefined,
    quotaRenews: number | undefined,
  ): Promise<CounterSet> {
    const counters: { quotaUsed?: number; quotaRenews?: number } = {};
    const limits = await this.#limitsOf(after);
    if (quotaRemaining !== undefined) counters.quotaUsed = quotaUsedFor(limits.quotaMax, quotaRemaining);
    if (quotaRenews !== undefined) counters.quotaRenews = quotaRenews;
    else if (limits.quotaRenewalRate > 0 && (await this.#neverRenewed(before)))
      counters.quotaRenews = this.#clock() + limits.quotaRenewalRate;
    return counters;
  }

  /** The session's quota had one window forever (a renewal rate of 0 in force), whose stored end has passed. */
  async #neverRenewed(session: StoredSession): Promise<boolean> {
    const settings = effectiveSettings(session, await this.#policiesOf(session));
    const real = settings.missing.length === 0 && settings.conflicting.length === 0;
    return real && settings.limits.quotaRenewalRate === 0 && (session.quotaRenews ?? 0) <= this.#clock();
  }

  /** The limits in force for a session's own scope: its policies' when it names any (strong reads). */
  async #limitsOf(session: PolicySubject): Promise<Limits> {
    return effectiveSettings(session, await this.#policiesOf(session)).limits;
  }

  async #read(keyId: string): Promise<StoredSession> {
    const item = await this.#store.get(keySessionPk(keyId));
    if (item === undefined) throw new NotFoundError('no key with this id');
    return item;
  }

  /** Strong reads of the session's policies (the admin's PolicyStore does not cache). */
  async #policiesOf(session: Pick<PolicySubject, 'applyPolicies'>): Promise<Policy[]> {
    const ids = session.applyPolicies ?? [];
    if (ids.length === 0 || this.#deps.policies === undefined) return [];
    return (await this.#deps.policies.getMany(ids)).policies;
  }
}

/** The settings state a write is guarded by: the version named (`If-Match`) or read, in the life of the key read. */
function guardAt(current: StoredSession, ifMatch: number | undefined): SettingsGuard {
  return { incarnation: current.incarnation, version: ifMatch ?? current.version };
}

function checkRatePer(rate: number, per: number): void {
  if (rateWithoutPer(rate, per)) throw new InvalidInputError([{ field: 'per', message: RATE_NEEDS_PER }]);
}

function splitKey(body: unknown): { key?: string } & Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError([{ field: '(body)', message: 'must be a JSON object' }]);
  }
  const { key, ...rest } = body as Record<string, unknown>;
  if (key === undefined) return rest;
  if (typeof key !== 'string' || key.length < MIN_IMPORTED_KEY_LENGTH || key.length > 1024 || !/^[\x21-\x7e]+$/.test(key)) {
    // Validate the rest too, so that every bad field is named at once.
    const keyProblem = { field: 'key', message: `must be a string of ${MIN_IMPORTED_KEY_LENGTH} to 1024 printable ASCII characters` };
    try {
      parse(SessionInputSchema, rest);
    } catch (error) {
      if (error instanceof InvalidInputError) throw new InvalidInputError([keyProblem, ...error.details]);
      throw error;
    }
    throw new InvalidInputError([keyProblem]);
  }
  return { key, ...rest };
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError([{ field: '(body)', message: 'must be a JSON object' }]);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidInputError(fieldProblems(result.error));
  return result.data;
}

function stripReadOnly(patch: SessionPatch): SettingsChanges & { quotaRemaining?: number; quotaRenews?: number } {
  const { keyId: _k, createdAt: _c, updatedAt: _u, version: _v, ...changes } = patch;
  return changes as SettingsChanges & { quotaRemaining?: number; quotaRenews?: number };
}
