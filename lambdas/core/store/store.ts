import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CountPlan } from '../limits/limits.ts';
import type { CounterScope } from '../limits/scope.ts';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../model/errors.ts';
import { countWrite, type CountResult } from './count-write.ts';
import { UpdateExpression } from './expression.ts';
import { sessionIndexKind } from './kind-index.ts';
import { migrateLegacyCounters } from './legacy.ts';
import {
  oldItem,
  whenSameSettings,
  type CounterSet,
  type SessionKind,
  type SessionSettings,
  type SettingsChanges,
  type SettingsGuard,
  type StoredSession,
} from './item.ts';
import { TABLE } from './table.ts';

/** The attributes holding the tokens of an item's last writes, newest first (see `#write`). */
const WRITE_TOKEN_SLOTS = ['writeToken', 'writeToken1', 'writeToken2', 'writeToken3'] as const;

/** Partition-key prefix of JWT identity sessions, which never get a TTL (see {@link SessionStore.create}). */
const JWT_PREFIX = 'jwt#';

export interface SessionStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Seconds an expired API-key session is kept before TTL may delete it. */
  readonly retentionSeconds: number;
}

/**
 * Session persistence. Every read is strongly consistent; every write is conditional and
 * awaited, and returns the item as written (`ALL_NEW`) or, when its condition failed, the
 * item as it is (`ALL_OLD`), so no second read is needed.
 *
 * Settings writes (`create`, `updateSettings`) increment `version` and never write a
 * counter they read: counters change only by counting (`count`) or when a caller names
 * them (`CounterSet`). See docs/ARCHITECTURE.md, "The counting model".
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
    const out = await this.#client.send(new GetCommand({ TableName: this.#table, Key: { pk }, ConsistentRead: true }));
    return out.Item as StoredSession | undefined;
  }

  /**
   * Creates a session (version 1, a new incarnation); fails with {@link AlreadyExistsError}
   * if one exists under `pk`. A JWT identity's session gets no TTL: it is the record that
   * its trial was used, so an expired trial never restarts however long ago it expired.
   */
  async create(
    pk: string,
    keyId: string,
    settings: SessionSettings,
    counters: CounterSet,
    now: number,
    kind: SessionKind = 'key',
  ): Promise<StoredSession> {
    const item = {
      ...settings,
      ...counters,
      pk,
      // Sharded index value (`key#3`): sessions are created on the authorization path (see kind-index.ts).
      kind: sessionIndexKind(pk),
      keyId,
      incarnation: randomUUID(),
      writeToken: randomUUID(),
      createdAt: now,
      updatedAt: now,
      version: 1,
      ...(kind === 'key' ? this.#ttl(settings.expires) : {}),
    };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = oldItem(error);
      const tokens = current as unknown as Record<string, unknown> | undefined;
      if (WRITE_TOKEN_SLOTS.some((slot) => tokens?.[slot] === item.writeToken)) return current!; // our own create, its answer lost and re-sent
      throw new AlreadyExistsError('a session already exists for this key');
    }
    return item as StoredSession;
  }

  /**
   * Changes the given settings and increments `version`, only at the settings state `guard`
   * names — its version and incarnation — ({@link VersionConflictError} carrying the current
   * item otherwise; {@link NotFoundError} when absent). Counters change only if `counters`
   * names them. A write token makes a re-sent write (its answer lost) recognisable.
   */
  async updateSettings(
    pk: string,
    changes: SettingsChanges,
    counters: CounterSet,
    now: number,
    guard: SettingsGuard,
  ): Promise<StoredSession> {
    const x = new UpdateExpression();
    x.when('the key exists', `attribute_exists(${x.name('pk')})`);
    whenSameSettings(x, guard);
    x.setTo('version', `${x.name('version')} + ${x.value(1)}`).set('updatedAt', now);
    for (const [field, value] of Object.entries({ ...changes, ...counters })) {
      if (value === undefined) continue;
      if (value === null) x.remove(field);
      else x.set(field, value);
    }
    if (changes.expires !== undefined && !pk.startsWith(JWT_PREFIX)) {
      const ttl = this.#ttl(changes.expires)[TABLE.ttlAttribute];
      if (ttl === undefined) x.remove(TABLE.ttlAttribute);
      else x.set(TABLE.ttlAttribute, ttl);
    }
    return this.#write(pk, x, `expected version ${guard.version}`);
  }

  /**
   * Resets counters (reset-quota), without changing the settings version, so requests in
   * flight are not disturbed. Resets have a count of their own, `resets`: the write applies
   * only if no reset landed since `readResets` was read, and increments it. When it fails
   * because a reset landed since — ours, re-sent by the SDK after a lost answer, or another
   * admin's — the key has been reset after this call began, and that is the answer: a reset
   * never applies twice and never waits on settings traffic. With `guard` (`If-Match`) it
   * also requires that settings state ({@link VersionConflictError} otherwise).
   */
  async resetCounters(
    pk: string,
    counters: Readonly<Record<string, number>>,
    readResets: number,
    guard?: SettingsGuard,
  ): Promise<StoredSession> {
    const x = new UpdateExpression();
    x.when('the key exists', `attribute_exists(${x.name('pk')})`);
    const resets = x.name('resets');
    x.when(
      'no reset since the read',
      readResets === 0 ? `attribute_not_exists(${resets}) OR ${resets} = ${x.value(0)}` : `${resets} = ${x.value(readResets)}`,
    );
    if (guard !== undefined) whenSameSettings(x, guard);
    for (const [field, value] of Object.entries(counters)) x.set(field, value);
    x.set('resets', readResets + 1);
    try {
      return await this.#send(pk, x);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = oldItem(error);
      if (current === undefined) throw new NotFoundError('no session for this key');
      if ((current.resets ?? 0) !== readResets) return current; // reset since the read: ours re-sent, or another's
      throw new VersionConflictError(
        `session changed concurrently (expected version ${guard?.version}, found ${current.version})`,
        current,
      );
    }
  }

  /** Deletes a session (optionally only at the settings state `guard` names); false when there was none. */
  async delete(pk: string, guard?: SettingsGuard): Promise<boolean> {
    const x = new UpdateExpression();
    x.when('the key exists', `attribute_exists(${x.name('pk')})`);
    if (guard !== undefined) whenSameSettings(x, guard);
    try {
      await this.#client.send(
        new DeleteCommand({ TableName: this.#table, Key: { pk }, ...x.build(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = oldItem(error);
      if (current === undefined) return false;
      throw new VersionConflictError('session changed concurrently', current);
    }
  }

  /** Moves an item of gatepass 0.1 to the current counters, once (see `legacy.ts`). */
  migrate(item: StoredSession, quotaMaxInForce: number): Promise<StoredSession | undefined> {
    return migrateLegacyCounters(this.#client, this.#table, item, quotaMaxInForce);
  }

  /** Counts one request in `scope` as `plan` says, under the settings `guard` names (see `count-write.ts`). */
  count(pk: string, guard: SettingsGuard, scope: CounterScope, plan: CountPlan): Promise<CountResult> {
    return countWrite(this.#client, this.#table, pk, guard, scope, plan);
  }

  /**
   * A settings or counter write, with a fresh write token. The item keeps the tokens of its
   * last {@link WRITE_TOKEN_SLOTS} writes, and a write whose token is among them does not
   * apply again: when DynamoDB applies a write and its answer is lost, the SDK's re-sent copy
   * fails here — even if other writes landed in between — and is recognised as landed.
   */
  async #write(pk: string, x: UpdateExpression, expected: string): Promise<StoredSession> {
    const token = randomUUID();
    const mine = x.value(token);
    x.when('not already applied', `NOT (${WRITE_TOKEN_SLOTS.map((slot) => `${x.name(slot)} = ${mine}`).join(' OR ')})`);
    const none = x.value('');
    for (let i = WRITE_TOKEN_SLOTS.length - 1; i > 0; i--) {
      x.setTo(WRITE_TOKEN_SLOTS[i]!, `if_not_exists(${x.name(WRITE_TOKEN_SLOTS[i - 1]!)}, ${none})`);
    }
    x.setTo(WRITE_TOKEN_SLOTS[0]!, mine);
    try {
      return await this.#send(pk, x);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = oldItem(error);
      if (current === undefined) throw new NotFoundError('no session for this key');
      const item = current as unknown as Record<string, unknown>;
      if (WRITE_TOKEN_SLOTS.some((slot) => item[slot] === token)) return current; // our own write, its answer lost and re-sent
      throw new VersionConflictError(`session changed concurrently (${expected}, found ${current.version})`, current);
    }
  }

  /** One UpdateItem: the item as written, or a ConditionalCheckFailedException carrying the item as it is. */
  async #send(pk: string, x: UpdateExpression): Promise<StoredSession> {
    const out = await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk },
        ...x.build(),
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return out.Attributes as StoredSession;
  }

  #ttl(expires: number): Record<string, number> {
    return expires > 0 ? { [TABLE.ttlAttribute]: expires + this.#retention } : {};
  }
}
