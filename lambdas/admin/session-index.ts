import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetConsistent } from '../core/store/batch-get.ts';
import { LEGACY_KEY_KIND, sessionIndexKinds } from '../core/store/kind-index.ts';
import { GatepassError } from '../core/model/errors.ts';
import type { StoredSession } from '../core/store/item.ts';
import { TABLE } from '../core/model/table.ts';

/** BatchGetItem takes at most 100 keys per call; a page is never larger. */
export const MAX_PAGE_SIZE = 100;
/** Longest cursor accepted; real ones are about 150 characters. */
const MAX_CURSOR_LENGTH = 2048;

const KEY_PK = /^key#[0-9a-f]{64}$/;
/** The `kind-index` partitions that hold API keys, in listing order. */
const KEY_KINDS = sessionIndexKinds('key');

/** Where a page starts: DynamoDB's `LastEvaluatedKey` of the previous page. */
export type StartKey = Record<string, string>;

/** What to list: every API key, or the API keys with one alias. */
export type SessionQuery = { readonly kind: 'key' } | { readonly alias: string };

export interface SessionPage {
  /** Sessions in index order, read with strong reads. */
  readonly items: StoredSession[];
  /** Present when there may be more: pass it to the next call. */
  readonly next?: StartKey;
}

export interface SessionIndexOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Lists API-key sessions without a table scan: Queries on a keys-only index (`kind-index`
 * for every key: its shards in order, each sorted by `pk` — see `kind-index.ts`;
 * `alias-index` for one alias) name the items, then one strongly consistent BatchGetItem
 * reads them. The indexes are eventually consistent, so
 * an item is dropped when its strong read no longer matches the query (deleted, or its
 * alias changed a moment ago): a page can hold fewer items than `limit`.
 *
 * @example
 * const page = await index.query({ alias: 'ci' }, 25);
 * const more = page.next && (await index.query({ alias: 'ci' }, 25, page.next));
 */
export class SessionIndex {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: SessionIndexOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async query(query: SessionQuery, limit: number, start?: StartKey): Promise<SessionPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new GatepassError('ERR_VALIDATION', `limit must be 1 to ${MAX_PAGE_SIZE}`);
    }
    const byAlias = 'alias' in query;
    const { pks, next } = byAlias
      ? await this.#names(TABLE.aliasIndex, [query.alias], limit, start)
      : await this.#names(TABLE.kindIndex, KEY_KINDS, limit, start);
    const found = await batchGetConsistent<StoredSession>(this.#client, this.#table, pks);
    const items = pks
      .map((pk) => found.get(pk))
      .filter((item): item is StoredSession => item !== undefined && (byAlias ? item.alias === query.alias : true));
    return next === undefined ? { items } : { items, next };
  }

  /**
   * Up to `limit` API-key pks from the index partitions `values`, read in order from
   * `start`, and where the next page starts (absent at the end of the last partition).
   */
  async #names(
    index: { readonly name: string; readonly partitionKey: string },
    values: readonly string[],
    limit: number,
    start: StartKey | undefined,
  ): Promise<{ pks: string[]; next?: StartKey }> {
    const pks = new Set<string>();
    let at = start === undefined ? 0 : Math.max(0, values.indexOf(start[index.partitionKey] ?? ''));
    let from = start;
    for (; at < values.length; at += 1, from = undefined) {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: index.name,
          KeyConditionExpression: '#k = :v',
          ExpressionAttributeNames: { '#k': index.partitionKey },
          ExpressionAttributeValues: { ':v': values[at] },
          Limit: limit - pks.size,
          ExclusiveStartKey: from,
        }),
      );
      for (const item of page.Items ?? []) {
        const pk = String(item[TABLE.partitionKey]);
        if (KEY_PK.test(pk)) pks.add(pk);
      }
      if (page.LastEvaluatedKey !== undefined) return { pks: [...pks], next: page.LastEvaluatedKey as StartKey };
      if (pks.size >= limit) {
        // Full at the end of a partition: the next page starts after the last key read (in the next partition, if any).
        if (at + 1 === values.length) return { pks: [...pks] };
        return { pks: [...pks], next: { [index.partitionKey]: values[at] as string, [TABLE.partitionKey]: [...pks].at(-1) as string } };
      }
    }
    return { pks: [...pks] };
  }
}

/** The opaque cursor of a page: base64url of its start key. */
export function encodeCursor(next: StartKey): string {
  return Buffer.from(JSON.stringify(next), 'utf8').toString('base64url');
}

/**
 * The start key in a cursor from {@link encodeCursor}, checked against the query it must
 * continue (so a forged or mismatched cursor never reaches DynamoDB); `undefined` when it
 * is not a cursor of that query.
 */
export function decodeCursor(cursor: string, query: SessionQuery): StartKey | undefined {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  const indexKey = 'alias' in query ? TABLE.aliasIndex.partitionKey : TABLE.kindIndex.partitionKey;
  if (entries.length !== 2) return undefined;
  const start: StartKey = {};
  for (const [name, field] of entries) {
    if (typeof field !== 'string' || (name !== TABLE.partitionKey && name !== indexKey)) return undefined;
    start[name] = field;
  }
  const pk = start[TABLE.partitionKey];
  const partition = start[indexKey];
  if (pk === undefined || partition === undefined || !KEY_PK.test(pk)) return undefined;
  if ('alias' in query) return partition === query.alias ? start : undefined;
  // A kind shard holds only the pks it is named after (`key#3` → `key#3…`).
  const inShard = KEY_KINDS.includes(partition) && (partition === LEGACY_KEY_KIND || pk.startsWith(partition));
  return inShard ? start : undefined;
}
