import type * as z from 'zod';
import type { RequestTarget } from '../core/request/access-rights.ts';
import { NotFoundError } from '../core/model/errors.ts';
import { explainDecision, type Explanation } from '../core/request/explain.ts';
import { fieldProblems, InvalidInputError, type FieldProblem } from '../core/model/input-error.ts';
import { generateKey, keyIdOf, keySessionPk, MIN_IMPORTED_KEY_LENGTH } from '../core/model/keys.ts';
import { effectiveSettings, type Policy } from '../core/policies/policy.ts';
import type { PolicyStore } from '../core/policies/policy-store.ts';
import { decodeCursor, encodeCursor, type SessionIndex, type SessionQuery } from './session-index.ts';
import { newSessionFields, SessionInputSchema, SessionPatchSchema, type Session, type SessionPatch } from '../core/model/session.ts';
import type { SessionChanges, SessionStore, StoredSession } from '../core/store/store.ts';
import { tykFieldName, tykSessionToInput } from './tyk.ts';

// Kept here too: hooks, session writes and tests import them from this module.
export { fieldProblems, InvalidInputError, type FieldProblem } from '../core/model/input-error.ts';

/** The fields of the public session (SPEC §3), in the order the admin API shows them. */
const PUBLIC_FIELDS = [
  'keyId', 'alias', 'expires', 'quotaMax', 'quotaRemaining', 'quotaRenewalRate', 'quotaRenews', 'rate', 'per',
  'accessRights', 'applyPolicies', 'metaData', 'tags', 'isInactive', 'createdAt', 'updatedAt', 'version',
] as const satisfies ReadonlyArray<keyof Session>;

/**
 * A session without its storage details (pk, kind, ttl, rate window counters and
 * whatever else the store keeps): only the public fields are copied.
 */
export function toPublicSession(item: StoredSession): Session {
  const session: Record<string, unknown> = {};
  for (const field of PUBLIC_FIELDS) if (item[field] !== undefined) session[field] = item[field];
  // The fast path counts down an unlimited quota too (see SessionStore.fastConsume): not a count.
  if (item.quotaMax === -1 || item.quotaRemaining < -1) session.quotaRemaining = -1;
  return session as unknown as Session;
}

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

  /** Creates a key (generated, or imported with `key`) and its session. */
  async create(body: unknown): Promise<CreatedKey> {
    const { key: imported, ...fields } = splitKey(body);
    const input = parse(SessionInputSchema, fields);
    const key = imported ?? generateKey();
    const keyId = keyIdOf(key);
    const now = this.#clock();
    const item = await this.#store.create(keySessionPk(keyId), keyId, newSessionFields(input, now), now);
    return { key, keyId, session: toPublicSession(item) };
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
    return toPublicSession(await this.#read(keyId));
  }

  /** Partial update; with `ifMatch`, only at that version (else `VersionConflictError`). */
  async update(keyId: string, body: unknown, ifMatch?: number): Promise<Session> {
    const changes = stripReadOnly(parse(SessionPatchSchema, body));
    const current = await this.#read(keyId);
    checkRatePer(changes.rate ?? current.rate, changes.per ?? current.per);
    const quotaMax = changes.quotaMax ?? current.quotaMax;
    const quota = changes.quotaRemaining === undefined && quotaMax !== current.quotaMax ? { quotaRemaining: keptQuotaRemaining(current, quotaMax) } : {};
    const item = await this.#store.update(keySessionPk(keyId), { ...changes, ...quota }, this.#clock(), ifMatch ?? current.version);
    return toPublicSession(item);
  }

  /**
   * Replaces the settings: fields left out get a new session's defaults (an omitted alias
   * is removed), but `createdAt` and the counters (`quotaRemaining`, `quotaRenews`, the
   * rate window) are kept unless given; `quotaRemaining` is capped at a lowered `quotaMax`.
   */
  async replace(keyId: string, body: unknown, ifMatch?: number): Promise<Session> {
    const input = parse(SessionInputSchema, body);
    const current = await this.#read(keyId);
    const now = this.#clock();
    const fields = newSessionFields(
      {
        ...input,
        quotaRemaining: input.quotaRemaining ?? keptQuotaRemaining(current, input.quotaMax),
        quotaRenews: input.quotaRenews ?? current.quotaRenews,
      },
      now,
    );
    const changes: SessionChanges = { ...fields, alias: fields.alias ?? null };
    const item = await this.#store.update(keySessionPk(keyId), changes, now, ifMatch ?? current.version);
    return toPublicSession(item);
  }

  /**
   * Starts a new quota window now: `quotaRemaining` = the quota in force (the policies'
   * when the key has any), `quotaRenews` = now + its renewal rate.
   */
  async resetQuota(keyId: string, ifMatch?: number): Promise<Session> {
    const current = await this.#read(keyId);
    const { limits } = effectiveSettings(current, await this.#policiesOf(current));
    const now = this.#clock();
    const changes: SessionChanges = { quotaRemaining: limits.quotaMax, quotaRenews: now + limits.quotaRenewalRate };
    const item = await this.#store.update(keySessionPk(keyId), changes, now, ifMatch ?? current.version);
    return toPublicSession(item);
  }

  async delete(keyId: string, ifMatch?: number): Promise<void> {
    const deleted = await this.#store.delete(keySessionPk(keyId), ifMatch);
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
    return { items: page.items.map(toPublicSession), cursor: page.next === undefined ? null : encodeCursor(page.next) };
  }

  /** The decision a request to `target` would get at `at` (epoch s, default now), consuming nothing. */
  async explain(keyId: string, target: RequestTarget, at: number = this.#clock()): Promise<Explanation & { session: Session }> {
    const current = await this.#read(keyId);
    const explanation = explainDecision(current, await this.#policiesOf(current), target, at * 1000);
    return { ...explanation, session: toPublicSession(current) };
  }

  async #read(keyId: string): Promise<StoredSession> {
    const item = await this.#store.get(keySessionPk(keyId));
    if (item === undefined) throw new NotFoundError('no key with this id');
    return item;
  }

  /** Strong reads of the session's policies (the admin's PolicyStore does not cache). */
  async #policiesOf(session: StoredSession): Promise<Policy[]> {
    const ids = session.applyPolicies ?? [];
    if (ids.length === 0 || this.#deps.policies === undefined) return [];
    return (await this.#deps.policies.getMany(ids)).policies;
  }
}

/**
 * The quota counter kept when `quotaMax` is set and `quotaRemaining` is not given: as it
 * is for the same limit; capped at a lowered limit; a full window when the key was
 * unlimited (-1) before, so that a new limit never starts out exhausted.
 */
function keptQuotaRemaining(current: StoredSession, quotaMax: number): number {
  if (quotaMax === current.quotaMax) return current.quotaRemaining;
  if (quotaMax < 0) return -1;
  if (current.quotaRemaining < 0) return quotaMax;
  return Math.min(current.quotaRemaining, quotaMax);
}

function checkRatePer(rate: number, per: number): void {
  if (rate > 0 && per <= 0) throw new InvalidInputError([{ field: 'per', message: 'must be greater than 0 when rate is set' }]);
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

/**
 * Longest `per` and `quotaRenewalRate`: 100 years. The schemas allow any safe integer, but
 * `now + quotaRenewalRate` (and the rate window's end in ms) must stay storable numbers.
 */
export const MAX_WINDOW_SECONDS = 100 * 366 * 86_400;

/**
 * Window lengths too long to add to the clock. Checked on the raw body, so that these
 * problems are named together with the schema's.
 *
 * @example
 * windowProblems({ per: 1e15 }); // [{ field: 'per', message: 'must be at most 3162240000 s (100 years)' }]
 */
export function windowProblems(body: unknown): FieldProblem[] {
  if (body === null || typeof body !== 'object') return [];
  return (['per', 'quotaRenewalRate'] as const)
    .filter((field) => {
      const value = (body as Record<string, unknown>)[field];
      return typeof value === 'number' && value > MAX_WINDOW_SECONDS;
    })
    .map((field) => ({ field, message: `must be at most ${MAX_WINDOW_SECONDS} s (100 years)` }));
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError([{ field: '(body)', message: 'must be a JSON object' }]);
  }
  const result = schema.safeParse(value);
  const problems = result.success ? [] : fieldProblems(result.error);
  for (const problem of windowProblems(value)) if (!problems.some((p) => p.field === problem.field)) problems.push(problem);
  if (problems.length > 0 || !result.success) throw new InvalidInputError(problems);
  return result.data;
}

function stripReadOnly(patch: SessionPatch): SessionChanges {
  const { keyId: _k, createdAt: _c, updatedAt: _u, version: _v, ...changes } = patch;
  return changes as SessionChanges;
}
