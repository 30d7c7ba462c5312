import { ConditionalCheckFailedException, TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLE } from '../model/table.ts';
import {
  COOL_MS,
  counterItemPk,
  drawFill,
  spendExpression,
  unchangedCounterItem,
  unspentLeases,
  whenCounterItems,
  type CounterItem,
  type LeaseWindow,
} from './counter-items.ts';
import { isItemThrottle, isThrottlingError, tryElsewhereWhenThrottled } from './dynamo-client.ts';
import { UpdateExpression } from './expression.ts';
import { fillSessionExpression, filledCounterItem, type FillPlan } from './fills.ts';
import type { SettingsGuard, StoredSession } from './item.ts';

/**
 * How a spend on a counter item went: `throttled` (that item's throughput: see
 * `isItemThrottle`), `conflict` (a transaction in flight on it, or the table as a whole
 * throttled: another item may take it, but more items would not help).
 */
export type Spend =
  | { readonly ok: true; readonly item: CounterItem }
  | { readonly ok: false; readonly seen: CounterItem | undefined }
  | 'throttled'
  | 'conflict';

/** What a cooling did: halved the key, left it as it was, or may have done either (a busy answer). */
export type Cooling = 'cooled' | 'kept' | 'unknown';

/** How a transaction went: applied, `busy` (throttled or in conflict: nothing applied), or the write whose condition failed and its item. */
export type Outcome = 'ok' | 'busy' | { readonly index: number; readonly item: StoredSession | undefined };

/**
 * The DynamoDB requests of a hot key's counting (see `leases.ts`): spends, fills and the
 * transactions that take leases back. Throttled requests are not retried on the same
 * item (`tryElsewhereWhenThrottled`): the caller goes to another counter item.
 */
export class LeaseWrites {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, table: string) {
    this.#client = client;
    this.#table = table;
  }

  get table(): string {
    return this.#table;
  }

  /**
   * Raises the session item's `shards` to `to` (never lowers it): `ok`, `busy` (throttled),
   * or the session item as it is when it already has as many (or is gone: `undefined`).
   */
  async raiseShards(pk: string, from: number, to: number): Promise<'ok' | 'busy' | { readonly current: StoredSession | undefined }> {
    const x = new UpdateExpression();
    x.when('the key exists', `attribute_exists(${x.name('pk')})`);
    // Exactly the counter items the growth was judged on: not a key another instance grew, nor one a cooling halved since.
    const shards = x.name('shards');
    x.when('as seen', from === 0 ? `attribute_not_exists(${shards}) OR ${shards} = ${x.value(0)}` : `${shards} = ${x.value(from)}`);
    x.set('shards', to);
    try {
      await this.#client.send(
        tryElsewhereWhenThrottled(
          new UpdateCommand({ TableName: this.#table, Key: { pk }, ...x.build(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        ),
      );
      return 'ok';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const raw = (error as { Item?: Record<string, never> }).Item;
        return { current: raw === undefined ? undefined : (unmarshall(raw) as StoredSession) };
      }
      if (isBusy(error)) return 'busy';
      throw error;
    }
  }

  async spend(
    pk: string,
    index: number,
    guard: SettingsGuard,
    tag: string,
    windows: readonly LeaseWindow[],
    nowMs: number,
  ): Promise<Spend> {
    try {
      const out = await this.#client.send(
        tryElsewhereWhenThrottled(
          new UpdateCommand({
            TableName: this.#table,
            Key: { pk: counterItemPk(pk, index) },
            ...spendExpression(guard, tag, windows, nowMs).build(),
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { ok: true, item: out.Attributes as CounterItem };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const raw = (error as { Item?: Record<string, never> }).Item;
        return { ok: false, seen: raw === undefined ? undefined : (unmarshall(raw) as CounterItem) };
      }
      if (isItemThrottle(error)) return 'throttled';
      if (isBusy(error)) return 'conflict';
      throw error;
    }
  }

  /**
   * Takes every lease back at once: the session item's `change` (fewer counter items after
   * cooling, or the lease tag of newer policies) under its guard and its number of counter
   * items, and every counter item deleted, in one transaction.
   */
  async revoke(session: StoredSession, change: { readonly shards?: number; readonly leaseTag?: string }): Promise<void> {
    const shards = session.shards ?? 0;
    const x = new UpdateExpression();
    x.when('the key exists', `attribute_exists(${x.name('pk')})`);
    x.when('same settings version', `${x.name('version')} = ${x.value(session.version)}`);
    x.when('same incarnation', `${x.name('incarnation')} = ${x.value(session.incarnation ?? '')}`);
    whenCounterItems(x, shards);
    if (change.shards === 0) x.remove('shards');
    else if (change.shards !== undefined) x.set('shards', change.shards);
    if (change.leaseTag !== undefined) x.set('leaseTag', change.leaseTag);
    await this.transact([
      { Update: { TableName: this.#table, Key: { pk: session.pk }, ...x.build() } as Update },
      ...counterItemDeletes(this.#table, session.pk, shards),
    ]);
  }

  /**
   * Halves a cooled key's counter items (`session`, as just read) (at one: back to counting on the session item),
   * giving their unspent leases back: the counter items and the session item are read, and
   * one transaction deletes every counter item exactly as read and takes the unspent
   * requests of the leases still good off the session item's counts, exactly as read. If
   * anything moved meanwhile, or a write is throttled, nothing happens (a later request cools
   * it); true when it was done.
   */
  async cool(session: StoredSession | undefined, nowMs: number): Promise<Cooling> {
    const shards = session?.shards ?? 0;
    // Judged on the session item as read: no lease taken anywhere for the cooling time (a hint may be old).
    if (session === undefined || shards === 0 || session.filledAt === undefined || nowMs - session.filledAt <= COOL_MS) return 'kept';
    const items = await this.counterItems(session);
    const x = new UpdateExpression();
    x.when('no fill since', `${x.name('filledAt')} = ${x.value(session.filledAt)}`);
    // One halving per cooling time: the next is judged from now.
    x.set('filledAt', nowMs);
    x.when('same settings version', `${x.name('version')} = ${x.value(session.version)}`);
    x.when('same incarnation', `${x.name('incarnation')} = ${x.value(session.incarnation ?? '')}`);
    whenCounterItems(x, shards);
    const returned = unspentLeases(session, items);
    for (const [used, count] of Object.entries(returned)) {
      const value = (session as unknown as Record<string, number>)[used]!;
      x.when(`${used} as read`, `${x.name(used)} = ${x.value(value)}`);
      x.set(used, value - count);
    }
    if (shards === 1) x.remove('shards');
    else x.set('shards', Math.floor(shards / 2));
    const outcome = await this.transact([
      { Update: { TableName: this.#table, Key: { pk: session.pk }, ...x.build() } as Update },
      ...items.map((item, i) => ({
        Delete: { TableName: this.#table, Key: { pk: counterItemPk(session.pk, i) }, ...unchangedCounterItem(item).build() },
      })),
    ]);
    // Busy: throttled, or its answer lost and the re-send throttled — it may have landed.
    return outcome === 'ok' ? 'cooled' : outcome === 'busy' ? 'unknown' : 'kept';
  }

  /** A spread session's counter items `0 … shards - 1`, each read consistently (`undefined`: none there). */
  counterItems(session: StoredSession): Promise<(CounterItem | undefined)[]> {
    return Promise.all(Array.from({ length: session.shards ?? 0 }, (_, i) => this.#getItem(counterItemPk(session.pk, i))));
  }

  async #getItem(pk: string): Promise<CounterItem | undefined> {
    const out = await this.#client.send(new GetCommand({ TableName: this.#table, Key: { pk }, ConsistentRead: true }));
    return out.Item as CounterItem | undefined;
  }

  /**
   * A fill (see `fills.ts`): one transaction that takes `plan`'s leases from the session item
   * `pk` (under `guard` and lease tag `tag`) and writes them to the counter items `filled`,
   * each on condition it is exactly as seen, with the session's TTL `ttl` (see `counterItemTtl`). The request is
   * spent on the first of them in the same write: returns that item as written, and how the transaction went.
   */
  fill(
    pk: string,
    guard: SettingsGuard,
    tag: string,
    plan: FillPlan,
    windows: readonly LeaseWindow[],
    filled: readonly { readonly index: number; readonly seen: CounterItem | undefined }[],
    nowMs: number,
    ttl: number | undefined,
  ): { first: CounterItem; outcome: Promise<Outcome> } {
    const items = filled.map((e, ordinal) =>
      filledCounterItem(counterItemPk(pk, e.index), e.seen, guard, tag, plan.fills, nowMs, ttl, ordinal, windows),
    );
    const highest = Math.max(...filled.map((e) => e.index));
    const session = { TableName: this.#table, Key: { pk }, ...fillSessionExpression(guard, tag, highest, plan, nowMs).build() };
    const outcome = this.transact([
      { Update: { ...session, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as Update },
      ...filled.map((e, i) => ({ Put: { TableName: this.#table, Item: items[i]!, ...unchangedCounterItem(e.seen).build() } })),
    ]);
    return { first: items[0]!, outcome };
  }

  /** One transaction: `ok`, `busy` (throttled or in conflict: nothing applied), or the write whose condition failed and its item. */
  async transact(items: TransactItem[]): Promise<Outcome> {
    try {
      await this.#client.send(tryElsewhereWhenThrottled(new TransactWriteCommand({ TransactItems: items })));
      return 'ok';
    } catch (error) {
      if (isBusy(error)) return 'busy';
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const index = reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
      if (index < 0) return 'busy';
      const raw = reasons[index]!.Item;
      return { index, item: raw === undefined ? undefined : (unmarshall(raw as never) as StoredSession) };
    }
  }

  async get(pk: string): Promise<StoredSession | undefined> {
    const out = await this.#client.send(new GetCommand({ TableName: this.#table, Key: { pk }, ConsistentRead: true }));
    return out.Item as StoredSession | undefined;
  }
}

type TransactItem = NonNullable<TransactWriteCommand['input']['TransactItems']>[number];
type Update = TransactItem['Update'];

/** Deletes of a session's counter items `0 … shards - 1` (part of every transaction that revokes leases). */
export function counterItemDeletes(table: string, pk: string, shards: number): TransactItem[] {
  return Array.from({ length: shards }, (_, index) => ({ Delete: { TableName: table, Key: { pk: counterItemPk(pk, index) } } }));
}

/**
 * Updates of a session's counter items `0 … shards - 1` that move their leases to settings
 * version `version` (part of a change that keeps the leases; see `keepsLeases`), with the TTL of the session after
 * the change (`ttl`: `null` none, `undefined` each keeps its own; see `counterItemTtl`). Each gets a
 * new `fill`, so a fill planned on it as it was fails and looks again. A counter item that
 * was not there is left as an empty one (no lease, no life: nothing can be spent on it), which
 * goes with its session (the same TTL) unless a fill writes it first.
 */
export function counterItemCarries(
  table: string,
  pk: string,
  shards: number,
  version: number,
  ttl: number | null | undefined,
): TransactItem[] {
  return Array.from({ length: shards }, (_, index) => {
    const x = new UpdateExpression();
    x.set('version', version).set('fill', drawFill());
    if (ttl === null) x.remove(TABLE.ttlAttribute);
    else if (ttl !== undefined) x.set(TABLE.ttlAttribute, ttl);
    return { Update: { TableName: table, Key: { pk: counterItemPk(pk, index) }, ...x.build() } as Update };
  });
}

/** Throttled, or rejected by a transaction in flight: nothing was applied, another item may take it. */
export function isBusy(error: unknown): boolean {
  return error instanceof TransactionConflictException || isThrottlingError(error);
}

/** A short random pause, growing with the step: the units of a throttled item come back over a second. */
export function pause(step: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 10 * (step + 1) * (0.5 + Math.random())));
}
