import { describe, expect, it } from 'vitest';
import { itemId, itemUnits } from '../../../local/item-units.ts';

const KEY = ['pk'];
const a = { pk: { S: 'a' } };
const b = { pk: { S: 'b' } };
const units = (command: string, input: unknown) => itemUnits(command, input, KEY).map(({ item, kind, units }) => ({ item, kind, units }));

describe('itemUnits', () => {
  it('charges a strongly consistent GetItem one read unit, an eventually consistent one half', () => {
    expect(units('GetItemCommand', { TableName: 't', Key: a, ConsistentRead: true })).toEqual([
      { item: itemId('t', a), kind: 'read', units: 1 },
    ]);
    expect(units('GetItemCommand', { TableName: 't', Key: a })).toEqual([{ item: itemId('t', a), kind: 'read', units: 0.5 }]);
  });

  it('charges UpdateItem, DeleteItem and PutItem one write unit on the item they name', () => {
    const expected = [{ item: itemId('t', a), kind: 'write', units: 1 }];

    expect(units('UpdateItemCommand', { TableName: 't', Key: a, UpdateExpression: 'SET n = :n' })).toEqual(expected);
    expect(units('DeleteItemCommand', { TableName: 't', Key: a })).toEqual(expected);
    // PutItem names a whole item: its key is the key attributes of it.
    expect(units('PutItemCommand', { TableName: 't', Item: { ...a, n: { N: '1' } } })).toEqual(expected);
  });

  it('charges every item of a transaction two units, ConditionCheck included', () => {
    const input = {
      TransactItems: [
        { Update: { TableName: 't', Key: a } },
        { ConditionCheck: { TableName: 't', Key: b } },
        { Put: { TableName: 'u', Item: { ...a, x: { S: 'y' } } } },
        { Delete: { TableName: 'u', Key: b } },
      ],
    };

    expect(units('TransactWriteItemsCommand', input)).toEqual([
      { item: itemId('t', a), kind: 'write', units: 2 },
      { item: itemId('t', b), kind: 'write', units: 2 },
      { item: itemId('u', a), kind: 'write', units: 2 },
      { item: itemId('u', b), kind: 'write', units: 2 },
    ]);
    expect(units('TransactGetItemsCommand', { TransactItems: [{ Get: { TableName: 't', Key: a } }] })).toEqual([
      { item: itemId('t', a), kind: 'read', units: 2 },
    ]);
  });

  it('charges BatchGetItem per key, by each table’s consistency, and BatchWriteItem per request', () => {
    const get = { RequestItems: { t: { Keys: [a, b], ConsistentRead: true }, u: { Keys: [a] } } };
    const write = { RequestItems: { t: [{ PutRequest: { Item: { ...a, n: { N: '2' } } } }, { DeleteRequest: { Key: b } }] } };

    expect(units('BatchGetItemCommand', get)).toEqual([
      { item: itemId('t', a), kind: 'read', units: 1 },
      { item: itemId('t', b), kind: 'read', units: 1 },
      { item: itemId('u', a), kind: 'read', units: 0.5 },
    ]);
    expect(units('BatchWriteItemCommand', write)).toEqual([
      { item: itemId('t', a), kind: 'write', units: 1 },
      { item: itemId('t', b), kind: 'write', units: 1 },
    ]);
  });

  it('leaves out what touches no single item: Query, Scan, table operations', () => {
    expect(units('QueryCommand', { TableName: 't', KeyConditionExpression: 'pk = :a' })).toEqual([]);
    expect(units('ScanCommand', { TableName: 't' })).toEqual([]);
    expect(units('DescribeTableCommand', { TableName: 't' })).toEqual([]);
  });
});

describe('itemId', () => {
  it('names one item whatever order its key attributes come in, and tells tables apart', () => {
    const composite = { pk: { S: 'a' }, sk: { N: '1' } };
    const reordered = { sk: { N: '1' }, pk: { S: 'a' } };

    expect(itemId('t', composite)).toBe(itemId('t', reordered));
    expect(itemId('t', a)).not.toBe(itemId('u', a));
    expect(itemId('t', a)).not.toBe(itemId('t', b));
  });
});
