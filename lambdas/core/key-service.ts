import type { z } from 'zod';
import { generateKey, keyIdOf, keySessionPk, MIN_IMPORTED_KEY_LENGTH } from './keys.ts';
import {
  newSessionFields,
  SessionInputSchema,
  type Session,
  type SessionPatch,
} from './session.ts';
import type { SessionChanges, SessionStore, StoredSession } from './store.ts';
import { NotFoundError } from './errors.ts';

/** Field-level problems with an input, each naming its field. */
export class InvalidInputError extends Error {
  readonly details: readonly FieldProblem[];

  constructor(details: readonly FieldProblem[]) {
    super(`invalid fields: ${details.map((d) => d.field).join(', ')}`);
    this.name = 'InvalidInputError';
    this.details = details;
  }
}

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** Every problem zod found, one per field (unknown fields named one by one). */
export function fieldProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: 'unknown field' }));
    }
    return [{ field: base || '(body)', message: issue.message }];
  });
}

/** A session without its storage details (pk, ttl, rate window counters). */
export function toPublicSession(item: StoredSession): Session {
  const { pk: _pk, kind: _kind, ttl: _ttl, rateRemaining: _rr, rateResetsAt: _rra, ...session } = item as StoredSession & { ttl?: number; kind?: string };
  return session;
}

/**
 * Key management on top of the store: what the admin API (and later the CLI) does.
 * Raw keys are hashed here and returned once, at creation; they are never stored.
 */
export class KeyService {
  readonly #store: SessionStore;
  readonly #clock: () => number;

  constructor(store: SessionStore, clock: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Creates a key (generated, or imported with `key`) and its session. */
  async create(body: unknown): Promise<{ key: string; keyId: string; session: Session }> {
    const { key: imported, ...fields } = splitKey(body);
    const input = parse(SessionInputSchema, fields);
    const key = imported ?? generateKey();
    const keyId = keyIdOf(key);
    const now = this.#clock();
    const item = await this.#store.create(keySessionPk(keyId), keyId, newSessionFields(input, now), now);
    return { key, keyId, session: toPublicSession(item) };
  }

  async get(keyId: string): Promise<Session> {
    const item = await this.#store.get(keySessionPk(keyId));
    if (item === undefined) throw new NotFoundError('no key with this id');
    return toPublicSession(item);
  }

  /** Partial update; with `ifMatch`, only at that version (else `VersionConflictError`). */
  async update(keyId: string, patch: SessionPatch, ifMatch?: number): Promise<Session> {
    const changes = stripReadOnly(patch);
    const current = await this.#store.get(keySessionPk(keyId));
    if (current === undefined) throw new NotFoundError('no key with this id');
    const rate = changes.rate ?? current.rate;
    const per = changes.per ?? current.per;
    if (rate > 0 && per <= 0) throw new InvalidInputError([{ field: 'per', message: 'must be greater than 0 when rate is set' }]);
    const item = await this.#store.update(keySessionPk(keyId), changes, this.#clock(), ifMatch ?? current.version);
    return toPublicSession(item);
  }

  async delete(keyId: string, ifMatch?: number): Promise<void> {
    const deleted = await this.#store.delete(keySessionPk(keyId), ifMatch);
    if (!deleted) throw new NotFoundError('no key with this id');
  }
}

function splitKey(body: unknown): { key?: string } & Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError([{ field: '(body)', message: 'must be a JSON object' }]);
  }
  const { key, ...rest } = body as Record<string, unknown>;
  if (key === undefined) return rest;
  if (typeof key !== 'string' || key.length < MIN_IMPORTED_KEY_LENGTH || key.length > 1024 || !/^[\x21-\x7e]+$/.test(key)) {
    // Validate the rest too, so that every bad field is named at once.
    const others = SessionInputSchema.safeParse(rest);
    throw new InvalidInputError([
      { field: 'key', message: `must be a string of ${MIN_IMPORTED_KEY_LENGTH} to 1024 printable ASCII characters` },
      ...(others.success ? [] : fieldProblems(others.error)),
    ]);
  }
  return { key, ...rest };
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidInputError(fieldProblems(result.error));
  return result.data;
}

function stripReadOnly(patch: SessionPatch): SessionChanges {
  const { keyId: _k, createdAt: _c, updatedAt: _u, version: _v, ...changes } = patch;
  return changes as SessionChanges;
}
