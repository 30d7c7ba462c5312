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
import type { ConsumePlan, Counters } from './limits.ts';
import type { Session, SessionFields } from './session.ts';
import { TABLE } from './table.ts';

/** A session item as stored: the public session plus its key and window counters. */
export interface StoredSession extends Session, Counters {
  readonly pk: string;
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
  async consume(pk: string, version: number, plan: Extract<ConsumePlan, { kind: 'consume' }>, nowMs: number): Promise<ConsumeResult> {
    const now = Math.floor(nowMs / 1000);
    const sets: string[] = [];
    const conditions = ['#version = :version'];
    const names: Record<string, string> = { '#version': 'version' };
    const values: Record<string, unknown> = { ':version': version };

    if (plan.rate !== 'none') {
      Object.assign(names, { '#rr': 'rateRemaining', '#rra': 'rateResetsAt' });
      values[':nowMs'] = nowMs;
      // Both names are used on either path: `open` guards on #rra and sets #rr.
      if (plan.rate === 'open') {
        sets.push('#rr = :rateLeft', '#rra = :rateResetsAt');
        conditions.push('(attribute_not_exists(#rra) OR #rra <= :nowMs)');
        Object.assign(values, { ':rateLeft': plan.rateRemainingAfterOpen, ':rateResetsAt': plan.rateResetsAt });
      } else {
        sets.push('#rr = #rr - :one');
        conditions.push('#rra > :nowMs', '#rr > :zero');
        Object.assign(values, { ':one': 1, ':zero': 0 });
      }
    }
    if (plan.quota !== 'none') {
      names['#qr'] = 'quotaRemaining';
      if (plan.quota === 'open') {
        names['#qn'] = 'quotaRenews';
        sets.push('#qr = :quotaLeft', '#qn = :quotaRenews');
        conditions.push('#qn <= :now');
        Object.assign(values, { ':now': now, ':quotaLeft': plan.quotaRemainingAfterOpen, ':quotaRenews': plan.quotaRenews });
      } else {
        sets.push('#qr = #qr - :one');
        conditions.push('#qr > :zero');
        Object.assign(values, { ':one': 1, ':zero': 0 });
      }
    }
    if (sets.length === 0) {
      throw new GatepassError('ERR_STORE', 'consume called with nothing to consume');
    }

    try {
      const out = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk },
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
