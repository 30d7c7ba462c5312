import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetConsistent } from '../core/store/batch-get.ts';
import { GatepassError } from '../core/model/errors.ts';
import type { StoredSession } from '../core/store/store.ts';
import { TABLE } from '../core/store/table.ts';

/** BatchGetItem takes at most 100 keys per call; a page is never larger. */
export const MAX_PAGE_SIZE = 100;
/** Longest cursor accepted; real ones are about 150 characters. */
const MAX_CURSOR_LENGTH = 2048;

const KEY_PK = /^key#[0-9a-f]{64}$/;

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
 * Lists API-key sessions without a table scan: a Query on a keys-only index (`kind-index`
 * for every key, sorted by `pk`; `alias-index` for one alias) names the items, then one
 * strongly consistent BatchGetItem reads them. The indexes are eventually consistent, so
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
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: byAlias ? TABLE.aliasIndex.name : TABLE.kindIndex.name,
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': byAlias ? TABLE.aliasIndex.partitionKey : TABLE.kindIndex.partitionKey },
        ExpressionAttributeValues: { ':v': byAlias ? query.alias : query.kind },
        Limit: limit,
        ExclusiveStartKey: start,
      }),
    );
    const pks = (page.Items ?? []).map((item) => String(item[TABLE.partitionKey])).filter((pk) => KEY_PK.test(pk));
    const found = await batchGetConsistent<StoredSession>(this.#client, this.#table, pks);
    const items = pks
      .map((pk) => found.get(pk))
      .filter((item): item is StoredSession => item !== undefined && (byAlias ? item.alias === query.alias : true));
    const next = page.LastEvaluatedKey as StartKey | undefined;
    return next === undefined ? { items } : { items, next };
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
  const expected: Record<string, string> =
    'alias' in query ? { [TABLE.aliasIndex.partitionKey]: query.alias } : { [TABLE.kindIndex.partitionKey]: query.kind };
  if (entries.length !== 2) return undefined;
  const start: StartKey = {};
  for (const [name, field] of entries) {
    if (typeof field !== 'string') return undefined;
    if (name === TABLE.partitionKey) {
      if (!KEY_PK.test(field)) return undefined;
    } else if (expected[name] !== field) {
      return undefined;
    }
    start[name] = field;
  }
  return TABLE.partitionKey in start ? start : undefined;
}
