import { randomUUID } from 'node:crypto';
import { TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CountPlan } from '../limits/limits.ts';
import type { CounterScope } from '../limits/scope.ts';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../model/errors.ts';
import { countWrite, type CountResult } from './count-write.ts';
import { backOff, conflict, CONFLICT_ATTEMPTS, holds, revoking, type TransactItem } from './transaction.ts';
import { UpdateExpression } from './expression.ts';
import { sessionIndexKind } from './kind-index.ts';
import { keepsLeases, whenCounterItems } from './counter-items.ts';
import { isItemThrottle } from './dynamo-client.ts';
import { counterItemCarries, counterItemDeletes } from './lease-writes.ts';
import { Leases } from './leases.ts';
import { abortable } from './call-signal.ts';
import { createAbovePastLives, endOrphanPointer, keysAsRead, pastLifePut, pointerEnds, recordOfChange } from './past-lives.ts';
import {
  guardOf,
  namedFields,
  whenGuard,
  type CounterSet,
  type KeyPointer,
  type SessionKind,
  type SessionSettings,
  type SettingsChanges,
  type SettingsGuard,
  type StoredSession,
  type WriteGuard,
} from './item.ts';
import { TABLE } from '../model/table.ts';
import { counterItemTtl, ttlAfterChange, ttlOfNew } from './session-ttl.ts';

/** Whether a change under `guard` keeps the leases: see `keepsLeases`; only a change that names the version it moves from. */
function keeps(guard: WriteGuard, change: SessionChange): guard is WriteGuard & { readonly version: number } {
  return guard.version !== undefined && keepsLeases(change);
}

export interface SessionStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Seconds an expired API-key session is kept before TTL may delete it. */
  readonly retentionSeconds: number;
}

/** A change: settings, counters named by the caller, or both (a reset names counters only); every change that names something moves the version. */
export interface SessionChange {
  readonly settings?: SettingsChanges;
  readonly counters?: CounterSet;
}

/**
 * Session persistence, with four kinds of write (docs/ARCHITECTURE.md, "The counting model"):
 *
 * - **count** — one conditional UpdateItem per counted request (`count-write.ts`);
 * - **create** — a whole new item, only where none exists;
 * - **change** — settings (`version + 1`) and/or counters a caller names (a reset, an admin's
 *   `quotaRemaining`);
 * - **delete**.
 *
 * Every write is conditioned on a {@link WriteGuard}: the incarnation of the item the caller
 * read, so nothing lands on a deleted and re-created key, and the settings version where the
 * caller decided on settings. Every read is strongly consistent.
 *
 * Create, change and delete are `TransactWriteItems` with a `ClientRequestToken` (a re-sent
 * write is never applied twice: docs/ARCHITECTURE.md, "The writes"); counting never is one.
 */
export class SessionStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retention: number;
  readonly #leases: Leases;

  constructor(options: SessionStoreOptions) {
    // A hook's session write stops once its request has failed closed (`call-signal.ts`).
    this.#client = abortable(options.client);
    this.#table = options.tableName;
    this.#retention = options.retentionSeconds;
    this.#leases = new Leases(this.#client, options.tableName, options.retentionSeconds);
  }

  /** Strongly consistent read; `undefined` when there is no such session. */
  async get(pk: string): Promise<StoredSession | undefined> {
    const out = await this.#client.send(new GetCommand({ TableName: this.#table, Key: { pk }, ConsistentRead: true }));
    return out.Item as StoredSession | undefined;
  }

  /**
   * The session as requests have used it, for reading only (admin answers, explain): a
   * spread key's counts less the requests its counter items hold unspent — what was
   * allowed, not what was leased. One read per counter item. Never written back: a spend
   * may land at any moment after the reads.
   */
  counted(item: StoredSession): Promise<StoredSession> {
    return this.#leases.counted(item);
  }

  /**
   * Creates a session (a new incarnation, at version 1, or one above the last version of a
   * life deleted under `pk`: see `past-lives.ts`) and returns it; fails with
   * {@link AlreadyExistsError} (carrying the item) if one exists under `pk`. A JWT identity's
   * session gets no TTL: it is the record that its trial was used, so an expired trial never
   * restarts however long ago it expired.
   */
  async create(
    pk: string,
    keyId: string,
    settings: SessionSettings,
    counters: CounterSet,
    now: number,
    kind: SessionKind = 'key',
  ): Promise<StoredSession> {
    return createAbovePastLives(this.#client, this.#table, pk, (version) => {
      const item = {
        ...settings,
        ...counters,
        pk,
        // Sharded index value (`key#3`): sessions are created on the authorization path (see kind-index.ts).
        kind: sessionIndexKind(pk),
        keyId,
        incarnation: randomUUID(),
        createdAt: now,
        updatedAt: now,
        version,
        ...ttlOfNew(kind, settings.expires, this.#retention),
      } as StoredSession;
      const condition = new UpdateExpression();
      condition.when('no such key', `attribute_not_exists(${condition.name('pk')})`);
      return { item, put: { Put: { TableName: this.#table, Item: item, ...condition.build() } } };
    });
  }

  /**
   * Applies a change under `guard`: settings (`null` removes an attribute) and the counters
   * the caller names, with `version` incremented and `updatedAt` set — every change, a reset
   * too, so that `If-Match` and every remembered view of the key see it (requests in flight
   * decide again). A change that names nothing writes nothing (false): it only checks the
   * guard, on the item read now. Fails with {@link VersionConflictError} carrying the current
   * item when the guard no longer holds, {@link NotFoundError} when the key is gone.
   */
  async change(pk: string, guard: WriteGuard, change: SessionChange, now: number): Promise<boolean> {
    if (namedFields(change.settings).length === 0 && namedFields(change.counters).length === 0) {
      // Nothing to write (it would move only the version): the guard is checked on the item as it is now (a strongly consistent read).
      const current = await this.get(pk);
      if (current === undefined || !holds(current, guard)) conflict(current, guard);
      return false;
    }
    await revoking(this.#client, guard, (shards) => {
      const writes = this.#changeWrites(pk, guard, change, shards, now);
      return [writes.session, writes.record, ...writes.counterItems];
    });
    return true;
  }

  /**
   * What a change does to the counter items: a change that keeps the leases (see
   * `keepsLeases`; it needs the version it moves from) moves them to its new version, with the TTL that follows the
   * key's `expires` after it (as named, else as the guard read it; neither: each keeps its own); any other deletes them.
   */
  #counterItems(pk: string, guard: WriteGuard, change: SessionChange, shards: number): TransactItem[] {
    if (!keeps(guard, change)) return counterItemDeletes(this.#table, pk, shards);
    const named = change.settings?.expires;
    const expires = named === undefined ? guard.expires : (named ?? 0);
    const ttl = expires === undefined ? undefined : (counterItemTtl(pk, expires, this.#retention) ?? null);
    return counterItemCarries(this.#table, pk, shards, guard.version + 1, ttl);
  }

  /**
   * The writes of a change on `shards` counter items: the session item's (guarded; settings
   * with a new version, the counters named, the TTL that follows `expires`), its record of
   * versions (see `past-lives.ts`), and what the change does to the counter items.
   */
  #changeWrites(pk: string, guard: WriteGuard, change: SessionChange, shards: number, now: number) {
    const x = new UpdateExpression();
    whenGuard(x, guard);
    whenCounterItems(x, shards);
    x.setTo('version', `${x.name('version')} + ${x.value(1)}`).set('updatedAt', now);
    // A change that revokes the leases lets the next lease be taken under any policies.
    if (!keeps(guard, change)) x.remove('leaseTag');
    for (const [field, value] of Object.entries({ ...change.settings, ...change.counters })) {
      if (value === undefined) continue;
      if (value === null) x.remove(field);
      else x.set(field, value);
    }
    const ttl = ttlAfterChange(pk, change.settings?.expires, this.#retention);
    if (ttl === null) x.remove(TABLE.ttlAttribute);
    else if (ttl !== undefined) x.set(TABLE.ttlAttribute, ttl);
    return {
      session: { Update: { TableName: this.#table, Key: { pk }, ...x.build() } as TransactItem['Update'] },
      record: recordOfChange(this.#table, pk, guard, ttl),
      counterItems: this.#counterItems(pk, guard, change, shards),
    };
  }

  /**
   * A change that also creates a rotated-in key's pointer (`pointer`), in one transaction:
   * the session's settings change as `change` says (its `keyIds` naming the new key) and the
   * new key's partition key points at the session, or neither happens.
   */
  async changeWithPointer(
    pk: string,
    guard: SettingsGuard,
    change: SessionChange,
    pointer: KeyPointer,
    retired: readonly string[],
    now: number,
  ): Promise<void> {
    await revoking(
      this.#client,
      guard,
      (shards) => {
        const writes = this.#changeWrites(pk, guard, change, shards, now);
        const condition = new UpdateExpression();
        condition.when('no such key', `attribute_not_exists(${condition.name('pk')})`);
        const put = { TableName: this.#table, Item: { ...pointer, createdAt: now }, ...condition.build() };
        return [
          writes.session,
          { Put: put },
          writes.record,
          // A retired key's id answered versions up to this rotation's: a key imported under it later starts above.
          ...pointerEnds(this.#table, pk, retired, guard.version + 1, now),
          ...writes.counterItems,
        ];
      },
      (index) => {
        if (index === 1) throw new AlreadyExistsError('the new key already exists');
      },
    );
  }

  /**
   * Deletes a session under `guard` (its life, and its version when the guard names one) at a
   * version no higher than `lastVersion`, which it records as the last version of a deleted
   * life (see `past-lives.ts`), with the keys rotated into it as read (`keyIds`; none: never
   * rotated): their pointers go with it, each with the same record, so that no key of it
   * lingers. A rotation landing since the read refuses the delete, so it never ends a key id
   * the session no longer has. {@link NotFoundError} when there is no such session.
   */
  async delete(pk: string, guard: WriteGuard, lastVersion: number, now: number, keyIds?: Readonly<Record<string, number>>): Promise<void> {
    await revoking(this.#client, guard, (shards) => {
      const x = new UpdateExpression();
      whenGuard(x, guard);
      x.when('a version the record covers', `${x.name('version')} <= ${x.value(lastVersion)}`);
      const ends = keysAsRead(x, this.#table, pk, keyIds, lastVersion, now);
      whenCounterItems(x, shards);
      const session = { Delete: { TableName: this.#table, Key: { pk }, ...x.build() } };
      return [session, pastLifePut(this.#table, pk, lastVersion, now), ...ends, ...counterItemDeletes(this.#table, pk, shards)];
    });
  }

  /** Ends a rotated-in key's pointer that outlived its session: see `past-lives.ts`. */
  endOrphanPointer(pointer: KeyPointer, now: number): Promise<void> {
    return endOrphanPointer(this.#client, this.#table, pointer, now);
  }

  /**
   * Counts one request of `known` (the session as the request decided on it) in `scope` as
   * `plan` says, under its settings (see `count-write.ts`): on the session item, or — for a
   * hot key — on its counter items under lease tag `tag` (the policy versions the limits
   * came from; see `leases.ts`). A count on the session item that DynamoDB throttles spreads
   * the key over counter items and is counted there. A count that meets a change's
   * transaction in flight (`TransactionConflictException`: nothing applied) is sent again
   * after a short pause, a few times, and then reports the item as it is. A hot key's count
   * takes no step past `until` (a `performance.now()` time).
   */
  async count(known: StoredSession, scope: CounterScope, plan: CountPlan, tag = '', until = Infinity): Promise<CountResult> {
    // A key this instance has seen spread (by another request, since `known` was remembered) counts on its counter items.
    const shards = Math.max(known.shards ?? 0, this.#leases.memory.shardsOf(known.pk) ?? 0);
    if (shards > 0) return this.#leases.count({ ...known, shards }, scope, plan, tag, until);
    // This instance is spreading the key (its session item was throttled a moment ago): wait for that, not add to it.
    const spreading = this.#leases.memory.heating(known.pk) ? await this.#leases.spread(known.pk, until) : undefined;
    if (spreading === 'gone') return { ok: false, current: undefined };
    if (spreading) return this.count({ ...known, shards: spreading }, scope, plan, tag, until);
    try {
      return await this.#countOn(known, scope, plan);
    } catch (error) {
      // Only a throttle of the session item itself spreads the key: one of the table or the account is passed on (fails closed).
      if (!isItemThrottle(error)) throw error;
      // The session item is hot: count on counter items (spreading the key first if no one has).
      const spread = await this.#leases.spread(known.pk, until);
      // Deleted meanwhile: the request is answered on the key as it is (none).
      if (spread === 'gone') return { ok: false, current: undefined };
      if (spread === undefined || spread === 0) throw error;
      return this.count({ ...known, shards: spread }, scope, plan, tag, until);
    }
  }

  async #countOn(known: StoredSession, scope: CounterScope, plan: CountPlan): Promise<CountResult> {
    for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
      try {
        return await countWrite(this.#client, this.#table, known.pk, guardOf(known), scope, plan);
      } catch (error) {
        // Rejected (nothing applied) while a change's transaction holds the item: wait it out.
        if (!(error instanceof TransactionConflictException)) throw error;
        await backOff(attempt);
      }
    }
    return { ok: false, current: await this.get(known.pk) };
  }
}
