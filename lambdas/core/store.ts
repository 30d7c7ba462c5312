import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { AlreadyExistsError, GatepassError, NotFoundError, VersionConflictError } from './errors.ts';
import type { ConsumePlan, Counters, Limits } from './limits.ts';
import type { Session, SessionFields } from './session.ts';
import { TABLE } from './table.ts';

/** A session item as stored: the public session plus its key and window counters. */
export interface StoredSession extends Session, Counters {
  readonly pk: string;
  /** Until when (epoch s) the fast path may consume without a read: see {@link Arming}. */
  readonly armedUntil?: number;
  /** The limits the counters were last written under. */
  readonly armedLimits?: Limits;
}

/**
 * What a consumption write records: the effective limits the counters are now written
 * under (so that a change of limits starts new windows), and until when the fast path may
 * assume them — for a session's own limits a year (every settings write disarms the item),
 * for limits from policies `policyCacheSeconds` (none when that is 0).
 */
export interface Arming {
  readonly until: number | undefined;
  readonly limits: Limits;
}

export interface SessionStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Seconds an expired session is kept before TTL may delete it. */
  readonly retentionSeconds: number;
}

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
   * `planConsumption` for the session at `version`. One conditional UpdateItem: it
   * succeeds only if the session is still at that version and the counters still allow
   * the planned step; otherwise the current item comes back for a new decision.
   */
  async consume(
    session: StoredSession,
    plan: Extract<ConsumePlan, { kind: 'consume' }>,
    nowMs: number,
    arming: Arming,
  ): Promise<ConsumeResult> {
    const now = Math.floor(nowMs / 1000);
    const sets: string[] = [];
    const conditions = ['#version = :version'];
    const names: Record<string, string> = { '#version': 'version' };
    const values: Record<string, unknown> = { ':version': session.version };

    if (plan.rate !== 'none') {
      Object.assign(names, { '#rr': 'rateRemaining', '#rra': 'rateResetsAt' });
      // Both names are used on either path: `open` guards on #rra and sets #rr.
      if (plan.rate === 'open') {
        sets.push('#rr = :rateLeft', '#rra = :rateResetsAt');
        if (plan.rateForced) {
          // New limits: compare-and-swap on the counters as read.
          conditions.push(session.rateResetsAt === undefined ? 'attribute_not_exists(#rra)' : '#rra = :oldRra');
          if (session.rateResetsAt !== undefined) values[':oldRra'] = session.rateResetsAt;
        } else {
          conditions.push('(attribute_not_exists(#rra) OR #rra <= :nowMs)');
          values[':nowMs'] = nowMs;
        }
        Object.assign(values, { ':rateLeft': plan.rateRemainingAfterOpen, ':rateResetsAt': plan.rateResetsAt });
      } else {
        sets.push('#rr = #rr - :one');
        conditions.push('#rra > :nowMs', '#rr > :zero');
        Object.assign(values, { ':one': 1, ':zero': 0, ':nowMs': nowMs });
      }
    }
    if (plan.quota !== 'none') {
      names['#qr'] = 'quotaRemaining';
      if (plan.quota === 'open') {
        names['#qn'] = 'quotaRenews';
        sets.push('#qr = :quotaLeft', '#qn = :quotaRenews');
        if (plan.quotaForced) {
          conditions.push('#qn = :oldQn', '#qr = :oldQr');
          Object.assign(values, { ':oldQn': session.quotaRenews, ':oldQr': session.quotaRemaining });
        } else {
          conditions.push('#qn <= :now');
          values[':now'] = now;
        }
        Object.assign(values, { ':quotaLeft': plan.quotaRemainingAfterOpen, ':quotaRenews': plan.quotaRenews });
      } else {
        sets.push('#qr = #qr - :one');
        conditions.push('#qr > :zero');
        Object.assign(values, { ':one': 1, ':zero': 0 });
      }
    }
    // Record the limits the counters are now written under; arm the fast path if allowed.
    Object.assign(names, { '#al': 'armedLimits', '#rr': 'rateRemaining' });
    values[':armedLimits'] = arming.limits;
    sets.push('#al = :armedLimits');
    if (arming.until !== undefined) {
      names['#au'] = 'armedUntil';
      values[':armedUntil'] = arming.until;
      sets.push('#au = :armedUntil');
    }
    // The fast path decrements both counters unconditionally: make sure both exist.
    if (plan.rate === 'none') {
      sets.push('#rr = if_not_exists(#rr, :zero)');
      values[':zero'] = 0;
    }
    if (sets.length === 0) {
      throw new GatepassError('ERR_STORE', 'consume called with nothing to consume');
    }

    try {
      const out = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: session.pk },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, session: out.Attributes as StoredSession };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return { ok: false, current: oldItem(error) };
      }
      throw error;
    }
  }

  /**
   * The fast path: one UpdateItem that checks what a read would have checked — the item
   * exists and is armed, not inactive, not expired, and the armed limits allow one more
   * request in the open windows — and takes one request from both counters. Counters of
   * a limit that is off (rate 0, quota -1) are decremented too, and mean nothing.
   * On success the item after the write comes back (for access rights and the context);
   * on failure, the item as it is (or none), for the full path — still without a read.
   */
  async fastConsume(pk: string, nowMs: number): Promise<ConsumeResult> {
    const now = Math.floor(nowMs / 1000);
    try {
      const out = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk },
          UpdateExpression: 'SET #rr = #rr - :one, #qr = #qr - :one',
          ConditionExpression: [
            'attribute_exists(pk)',
            '#au > :now',
            '#inactive = :false',
            '(#expires = :zero OR #expires > :now)',
            '(#al.#rate = :zero OR (#rra > :nowMs AND #rr > :zero))',
            '(#al.#quotaMax = :unlimited OR (#qr > :zero AND (#al.#renewal = :zero OR #qn > :now)))',
          ].join(' AND '),
          ExpressionAttributeNames: {
            '#rr': 'rateRemaining', '#rra': 'rateResetsAt', '#qr': 'quotaRemaining', '#qn': 'quotaRenews',
            '#au': 'armedUntil', '#al': 'armedLimits', '#rate': 'rate', '#quotaMax': 'quotaMax',
            '#renewal': 'quotaRenewalRate', '#inactive': 'isInactive', '#expires': 'expires',
          },
          ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':unlimited': -1, ':false': false, ':now': now, ':nowMs': nowMs },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, session: out.Attributes as StoredSession };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { ok: false, current: oldItem(error) };
      throw error;
    }
  }

  /**
   * Gives back the request a fast-path write took, when a check after it denied the
   * request (access rights, an inactive or missing policy). Only into the same windows: if
   * one has rolled over since, the request was counted in a window that is gone anyway.
   */
  async refund(taken: StoredSession): Promise<void> {
    const guard = taken.rateResetsAt === undefined ? 'attribute_not_exists(#rra)' : '#rra = :rra';
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: taken.pk },
          UpdateExpression: 'SET #rr = #rr + :one, #qr = #qr + :one',
          ConditionExpression: `attribute_exists(pk) AND #qn = :qn AND ${guard}`,
          ExpressionAttributeNames: { '#rr': 'rateRemaining', '#rra': 'rateResetsAt', '#qr': 'quotaRemaining', '#qn': 'quotaRenews' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':qn': taken.quotaRenews,
            ...(taken.rateResetsAt === undefined ? {} : { ':rra': taken.rateResetsAt }),
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  #ttl(expires: number): Record<string, number> {
    return expires > 0 ? { [TABLE.ttlAttribute]: expires + this.#retention } : {};
  }
}

/**
 * The item that made a condition fail. DynamoDB returns it on the exception in raw
 * AttributeValue form, even through the DocumentClient.
 */
function oldItem(error: ConditionalCheckFailedException): StoredSession | undefined {
  const raw = (error as { Item?: Record<string, never> }).Item;
  return raw === undefined ? undefined : (unmarshall(raw) as StoredSession);
}
