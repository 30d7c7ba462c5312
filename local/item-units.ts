/**
 * Which items one DynamoDB request touches, and how many read or write units it takes from
 * each — DynamoDB's capacity rules, simplified to items of at most 1 KB (writes) and 4 KB
 * (reads): a write is 1 write unit, a strongly consistent read 1 read unit, an eventually
 * consistent one half a unit, and every item of a transaction twice that (a ConditionCheck
 * in `TransactWriteItems` is billed as a transactional write: 2 write units).
 *
 * The input is the command's input as it goes on the wire: AttributeValues (`{ S: 'k' }`),
 * as the document client has marshalled them by then.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type UnitKind = 'read' | 'write';

/** Units one request takes from one item. */
export interface ItemUnits {
  /** The item: its table and key, as one string (see {@link itemId}). */
  readonly item: string;
  readonly table: string;
  readonly kind: UnitKind;
  readonly units: number;
}

type Key = Record<string, AttributeValue>;

interface KeyedInput {
  readonly TableName?: string;
  readonly Key?: Key;
  readonly Item?: Key;
  readonly ConsistentRead?: boolean;
}

interface BatchGetInput {
  readonly RequestItems?: Record<string, { readonly Keys?: readonly Key[]; readonly ConsistentRead?: boolean }>;
}

interface BatchWriteInput {
  readonly RequestItems?: Record<
    string,
    ReadonlyArray<{ readonly PutRequest?: { readonly Item?: Key }; readonly DeleteRequest?: { readonly Key?: Key } }>
  >;
}

interface TransactWriteInput {
  readonly TransactItems?: ReadonlyArray<{
    readonly Put?: KeyedInput;
    readonly Update?: KeyedInput;
    readonly Delete?: KeyedInput;
    readonly ConditionCheck?: KeyedInput;
  }>;
}

interface TransactGetInput {
  readonly TransactItems?: ReadonlyArray<{ readonly Get?: KeyedInput }>;
}

/**
 * The units `commandName` (`GetItemCommand`, `UpdateItemCommand`…) takes from each item it
 * touches. Commands that read ranges or indexes (Query, Scan) and those that touch no item
 * (DescribeTable…) return nothing: the per-item model does not apply to them.
 *
 * @param keyAttributes the table's key attributes, to find the key of a whole item (PutItem)
 * @example
 * itemUnits('UpdateItemCommand', { TableName: 't', Key: { pk: { S: 'a' } } }, ['pk']);
 * // [{ item: 't␀{"pk":{"S":"a"}}', table: 't', kind: 'write', units: 1 }]
 */
export function itemUnits(commandName: string, input: unknown, keyAttributes: readonly string[]): ItemUnits[] {
  const one = (table: string | undefined, key: Key | undefined, kind: UnitKind, units: number): ItemUnits[] =>
    table === undefined || key === undefined ? [] : [{ item: itemId(table, key), table, kind, units }];
  const keyOf = (item: Key | undefined): Key | undefined => (item === undefined ? undefined : pick(item, keyAttributes));
  const readUnits = (consistent: boolean | undefined) => (consistent === true ? 1 : 0.5);

  switch (commandName) {
    case 'GetItemCommand': {
      const get = input as KeyedInput;
      return one(get.TableName, get.Key, 'read', readUnits(get.ConsistentRead));
    }
    case 'PutItemCommand': {
      const put = input as KeyedInput;
      return one(put.TableName, keyOf(put.Item), 'write', 1);
    }
    case 'UpdateItemCommand':
    case 'DeleteItemCommand': {
      const write = input as KeyedInput;
      return one(write.TableName, write.Key, 'write', 1);
    }
    case 'BatchGetItemCommand':
      return Object.entries((input as BatchGetInput).RequestItems ?? {}).flatMap(([table, request]) =>
        (request.Keys ?? []).flatMap((key) => one(table, key, 'read', readUnits(request.ConsistentRead))),
      );
    case 'BatchWriteItemCommand':
      return Object.entries((input as BatchWriteInput).RequestItems ?? {}).flatMap(([table, requests]) =>
        requests.flatMap((request) => one(table, request.DeleteRequest?.Key ?? keyOf(request.PutRequest?.Item), 'write', 1)),
      );
    case 'TransactWriteItemsCommand':
      return ((input as TransactWriteInput).TransactItems ?? []).flatMap((entry) => {
        const put = entry.Put;
        if (put !== undefined) return one(put.TableName, keyOf(put.Item), 'write', 2);
        const keyed = entry.Update ?? entry.Delete ?? entry.ConditionCheck;
        return one(keyed?.TableName, keyed?.Key, 'write', 2);
      });
    case 'TransactGetItemsCommand':
      return ((input as TransactGetInput).TransactItems ?? []).flatMap((entry) => one(entry.Get?.TableName, entry.Get?.Key, 'read', 2));
    default:
      return [];
  }
}

/** One string per item: the table and the key's attributes in name order (`Key` order is the caller's). */
export function itemId(table: string, key: Key): string {
  const canonical = Object.keys(key)
    .sort()
    .map((name) => [name, key[name]]);
  return `${table}\u0000${JSON.stringify(Object.fromEntries(canonical))}`;
}

function pick(item: Key, attributes: readonly string[]): Key | undefined {
  const key: Key = {};
  for (const name of attributes) {
    const value = item[name];
    if (value === undefined) return undefined;
    key[name] = value;
  }
  return key;
}
