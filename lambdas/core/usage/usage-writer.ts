import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { utcDay } from '../observability/decision-record.ts';
import { TABLE } from '../model/table.ts';
import type { UsageTally } from './tally.ts';
import { USAGE, usagePk, usageTtl } from './usage-item.ts';

/** DynamoDB takes up to 100 items in one transaction: 99 usage items and the batch's marker. */
export const USAGE_ITEMS_PER_TRANSACTION = 99;

/** Transactions in a row that may lose to a concurrent one on the same usage item before the batch fails (and is delivered again). */
const MAX_CONFLICT_ATTEMPTS = 8;

export interface UsageWriterOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Days usage is kept after its day ends (the items' TTL). @default 35 */
  readonly retentionDays?: number;
  /** Epoch ms, for the markers' TTL. @default Date.now */
  readonly clock?: () => number;
  /** Waits before retrying a transaction that lost to a concurrent one. @default node:timers/promises setTimeout */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/** What one batch did to the table. */
export interface UsageWriteResult {
  /** Transactions (chunks of at most 99 usage items). */
  readonly chunks: number;
  /** Chunks written now. */
  readonly counted: number;
  /** Chunks found already counted (their marker existed): a batch delivered again. */
  readonly alreadyCounted: number;
  /** Usage items (key and day) the batch touches. */
  readonly items: number;
}

/**
 * Adds a batch's tallies to the usage items, exactly once per batch: each chunk of up to 99
 * usage items is one `TransactWriteItems` that `ADD`s the counts and creates the chunk's
 * marker item (`usagebatch#<sha256(batch ids, chunk index)>`) with `attribute_not_exists` —
 * all of it or nothing. A chunk delivered again finds its marker: the transaction is
 * cancelled with `ConditionalCheckFailed` on the marker, which means "already counted".
 * A chunk that loses to a concurrent transaction on one of its items is retried.
 *
 * @example
 * await new UsageWriter({ client, tableName }).write(tally(decisions), logEventIds);
 */
export class UsageWriter {
  readonly #options: UsageWriterOptions;
  readonly #retentionDays: number;

  constructor(options: UsageWriterOptions) {
    this.#options = options;
    this.#retentionDays = options.retentionDays ?? USAGE.defaultRetentionDays;
    if (!Number.isInteger(this.#retentionDays) || this.#retentionDays < 1) {
      throw new RangeError(`usage retention must be a whole number of days of at least 1, got ${options.retentionDays}`);
    }
  }

  /**
   * Writes `tallies`; `batchIds` name the batch (the log event ids it was made from), in any
   * order. Both are put in a canonical order first — tallies by key id then day, ids sorted —
   * so the same set of events always gives the same chunks under the same markers, however
   * a redelivery orders them.
   */
  async write(tallies: readonly UsageTally[], batchIds: readonly string[]): Promise<UsageWriteResult> {
    let counted = 0;
    let alreadyCounted = 0;
    const ordered = [...tallies].sort(byItem);
    const chunks = Math.ceil(ordered.length / USAGE_ITEMS_PER_TRANSACTION);
    for (let index = 0; index < chunks; index++) {
      const chunk = ordered.slice(index * USAGE_ITEMS_PER_TRANSACTION, (index + 1) * USAGE_ITEMS_PER_TRANSACTION);
      if (await this.#writeChunk(chunk, markerPk(batchIds, index))) counted++;
      else alreadyCounted++;
    }
    return { chunks, counted, alreadyCounted, items: tallies.length };
  }

  /** True when written now, false when the chunk was already counted. */
  async #writeChunk(chunk: readonly UsageTally[], marker: string): Promise<boolean> {
    const { client, tableName } = this.#options;
    const now = (this.#options.clock ?? Date.now)();
    const TransactItems = [
      ...chunk.map((t) => ({ Update: { TableName: tableName, ...this.#addition(t) } })),
      {
        Put: {
          TableName: tableName,
          Item: { [TABLE.partitionKey]: marker, [TABLE.ttlAttribute]: usageTtl(utcDay(now), this.#retentionDays) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        },
      },
    ];
    for (let attempt = 1; ; attempt++) {
      try {
        await client.send(new TransactWriteCommand({ TransactItems }));
        return true;
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === undefined) throw error;
        if (reasons.at(-1) === 'ConditionalCheckFailed') return false;
        if (!reasons.includes('TransactionConflict') || attempt >= MAX_CONFLICT_ATTEMPTS) throw error;
        await (this.#options.sleep ?? sleep)(Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }

  /** The `UpdateItem` of one tally: `ADD` each counter, `SET` what names the item and its TTL. */
  #addition(t: UsageTally) {
    const names: Record<string, string> = { '#keyId': 'keyId', '#day': 'day', '#ttl': TABLE.ttlAttribute };
    const values: Record<string, unknown> = { ':keyId': t.keyId, ':day': t.day, ':ttl': usageTtl(t.day, this.#retentionDays) };
    const adds: string[] = [];
    let i = 0;
    for (const [counter, count] of t.counts) {
      names[`#c${i}`] = counter;
      values[`:c${i}`] = count;
      adds.push(`#c${i} :c${i}`);
      i++;
    }
    return {
      Key: { [TABLE.partitionKey]: usagePk(t.keyId, t.day) },
      UpdateExpression: `SET #keyId = :keyId, #day = :day, #ttl = :ttl ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }
}

/**
 * The marker of chunk `index` of the batch named by `batchIds`: sha256 of the ids sorted
 * (the set, not the order they were delivered in) and the chunk index.
 */
export function markerPk(batchIds: readonly string[], index: number): string {
  const ids = [...batchIds].sort(byCodeUnits);
  return (
    USAGE.batchPrefix +
    createHash('sha256')
      .update(`${ids.join('\n')}\n#${index}`, 'utf8')
      .digest('hex')
  );
}

/** Plain code-unit order: the same on every runtime and locale. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical order of usage items: key id, then day. */
function byItem(a: UsageTally, b: UsageTally): number {
  return byCodeUnits(a.keyId, b.keyId) || byCodeUnits(a.day, b.day);
}

/**
 * The cancellation reason codes of a cancelled transaction, in item order (`None`,
 * `ConditionalCheckFailed`, `TransactionConflict`…); `undefined` for any other error.
 * A conflict reported on its own (`TransactionConflictException`) reads as one conflict.
 */
function cancellationReasons(error: unknown): string[] | undefined {
  const { name, CancellationReasons } = (error ?? {}) as { name?: string; CancellationReasons?: Array<{ Code?: string }> };
  if (name === 'TransactionConflictException') return ['TransactionConflict'];
  if (name !== 'TransactionCanceledException') return undefined;
  return (CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
}
