import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { consumeWrite, fastConsumeWrite, oldItem, refundWrite } from './counter-writes.ts';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../model/errors.ts';
import type { ConsumePlan, Counters, Limits } from '../limits/limits.ts';
import type { Session, SessionFields } from '../model/session.ts';
import { TABLE } from './table.ts';

/** A session item as stored: the public session plus its key and window counters. */
export interface StoredSession extends Session, Counters {
  readonly pk: string;
  /** Until when (epoch s) the fast path may consume without a read: see {@link Arming}. */
  readonly armedUntil?: number;
  /** The limits the counters were last written under. */
  readonly armedLimits?: RecordedLimits;
}

/**
 * What a consumption write records: the effective limits the counters are now written
 * under (so that a change of limits starts new windows), and until when the fast path may
 * assume them — for a session's own limits a year (every settings write disarms the item),
 * for limits from policies `policyCacheSeconds` (none when that is 0).
 */
export interface Arming {
  readonly until: number | undefined;
  readonly limits: RecordedLimits;
}

/** Limits as recorded on the item, with how new they were (`updatedAt` of their source). */
export type RecordedLimits = Limits & { readonly stamp?: number };

export interface SessionStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Seconds an expired session is kept before TTL may delete it. */
  readonly retentionSeconds: number;
}

/** Fields whose change makes the counters stand as written by that change. */
const COUNTER_FIELDS = ['quotaMax', 'quotaRemaining', 'quotaRenewalRate', 'quotaRenews', 'rate', 'per'] as const;

/** What a session belongs to: an API key or a JWT identity. */
export type SessionKind = 'key' | 'jwt';

/** Fields a session update may set; `alias: null` removes the alias. */
export type SessionChanges = Partial<Omit<SessionFields, 'alias'>> & { alias?: string | null };

/** Outcome of a consumption write: the item after it, or the item that made it fail. */
export type ConsumeResult =
  | { readonly ok: true; readonly session: StoredSession }
  | { readonly ok: false; readonly current: StoredSession | undefined };

/**
 * Session persistence with the invariants of the contract: every read is strongly
 * consistent (I2); every write is conditional and awaited (I3) and returns the item as
 * written (`ALL_NEW`, I4); a failed condition returns the item as it is
 * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so no second read is needed.
 *
 * `version` guards the session's settings: admin writes and plugin updates increment it.
 * Counter consumption (quota, rate window) does not; it is guarded by the counters' own
 * values and by the version the request was checked against.
 */
export class SessionStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retention: number;

  constructor(options: SessionStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#retention = options.retentionSeconds;
  }

  /** Strongly consistent read; `undefined` when there is no such session. */
  async get(pk: string): Promise<StoredSession | undefined> {
    const out = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: { pk }, ConsistentRead: true }),
    );
    return out.Item as StoredSession | undefined;
  }

  /**
   * Creates a session; fails with {@link AlreadyExistsError} if one exists under `pk`.
   * `kind` (`key` or `jwt`) puts it in the kind index, for listing without a scan.
   */
  async create(pk: string, keyId: string, fields: SessionFields, now: number, kind: SessionKind = 'key'): Promise<StoredSession> {
    const item: Record<string, unknown> = {
      ...fields,
      pk,
      kind,
      keyId,
      createdAt: now,
      updatedAt: now,
      version: 1,
      // The counters start under the session's own limits (a policy's, if they differ, start anew).
      armedLimits: { rate: fields.rate, per: fields.per, quotaMax: fields.quotaMax, quotaRenewalRate: fields.quotaRenewalRate },
      ...this.#ttl(fields.expires),
    };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new AlreadyExistsError('a session already exists for this key');
      }
      throw error;
    }
    return item as unknown as StoredSession;
  }

  /**
   * Changes the given fields, increments `version`, returns the item as written.
   * With `expectedVersion`, fails with {@link VersionConflictError} (carrying the current
   * item) when the stored version differs; fails with {@link NotFoundError} when absent.
   */
  async update(
    pk: string,
    changes: SessionChanges,
    now: number,
    expectedVersion?: number,
  ): Promise<StoredSession> {
    const names: Record<string, string> = { '#version': 'version', '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':one': 1, ':now': now };
    const sets = ['#version = #version + :one', '#updatedAt = :now'];
    const removes: string[] = [];

    for (const [field, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      if (value === null) {
        removes.push(`#${field}`);
      } else {
        values[`:${field}`] = value;
        sets.push(`#${field} = :${field}`);
      }
    }
    if (changes.expires !== undefined) {
      names['#ttl'] = TABLE.ttlAttribute;
      if (changes.expires > 0) {
        values[':ttl'] = changes.expires + this.#retention;
        sets.push('#ttl = :ttl');
      } else {
        removes.push('#ttl');
      }
    }

    // New settings: the fast path must not run on limits recorded under the old ones.
    names['#armedUntil'] = 'armedUntil';
    removes.push('#armedUntil');
    // Counters or limits set by this write stand as written: no limits are recorded for them
    // (see planConsumption), and a new rate limit starts a new rate window.
    if (COUNTER_FIELDS.some((field) => changes[field] !== undefined)) {
      names['#armedLimits'] = 'armedLimits';
      removes.push('#armedLimits');
    }
    if (changes.rate !== undefined || changes.per !== undefined) {
      names['#rateResetsAt'] = 'rateResetsAt';
      removes.push('#rateResetsAt');
    }

    let condition = 'attribute_exists(pk)';
    if (expectedVersion !== undefined) {
      condition += ' AND #version = :expectedVersion';
      values[':expectedVersion'] = expectedVersion;
    }
    const expression = `SET ${sets.join(', ')}` + (removes.length ? ` REMOVE ${removes.join(', ')}` : '');

    try {
      const out = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk },
          UpdateExpression: expression,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return out.Attributes as StoredSession;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const current = oldItem(error);
        if (current === undefined) throw new NotFoundError('no session for this key');
        throw new VersionConflictError(
          `session changed concurrently (expected version ${expectedVersion}, found ${current.version})`,
          current,
        );
      }
      throw error;
    }
  }

  /** Deletes a session (optionally only at `expectedVersion`); false when there was none. */
  async delete(pk: string, expectedVersion?: number): Promise<boolean> {
    try {
      const out = await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk },
          ConditionExpression:
            expectedVersion === undefined ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND #version = :v',
          ...(expectedVersion === undefined
            ? {}
            : { ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':v': expectedVersion } }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return out !== undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const current = oldItem(error);
        if (current === undefined) return false;
        throw new VersionConflictError('session changed concurrently', current);
      }
      throw error;
    }
  }

  /**
   * Consumes one request from the rate window and the quota, as planned by
   * `planConsumption` for the session as read (see {@link consumeWrite}).
   */
  consume(session: StoredSession, plan: Extract<ConsumePlan, { kind: 'consume' }>, nowMs: number, arming: Arming): Promise<ConsumeResult> {
    return consumeWrite(this.#client, this.#table, session, plan, nowMs, arming);
  }

  /** The fast path: read, check and consume in one conditional write (see {@link fastConsumeWrite}). */
  fastConsume(pk: string, nowMs: number): Promise<ConsumeResult> {
    return fastConsumeWrite(this.#client, this.#table, pk, nowMs);
  }

  /** Gives back what a fast-path write took (see {@link refundWrite}). */
  refund(taken: StoredSession): Promise<void> {
    return refundWrite(this.#client, this.#table, taken);
  }

  #ttl(expires: number): Record<string, number> {
    return expires > 0 ? { [TABLE.ttlAttribute]: expires + this.#retention } : {};
  }
}
