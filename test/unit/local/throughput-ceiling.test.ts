import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { ThroughputCeiling } from '../../../local/throughput-ceiling.ts';

const key = (pk: string) => ({ pk: { S: pk } });
const update = (pk: string) => ({ TableName: 't', Key: key(pk), UpdateExpression: 'SET n = n + :one' });
const consistentGet = (pk: string) => ({ TableName: 't', Key: key(pk), ConsistentRead: true });

/** A ceiling on a clock the test moves. */
function ceilingAt(writeUnitsPerSecond: number) {
  const clock = { now: 0 };
  const ceiling = new ThroughputCeiling({ writeUnitsPerSecond, clock: () => clock.now });
  const attempt = (command: string, input: unknown) => {
    try {
      ceiling.charge(command, input);
      return 'ok';
    } catch (error) {
      if (error instanceof ProvisionedThroughputExceededException) return 'throttled';
      throw error;
    }
  };
  const times = (n: number, command: string, input: unknown) =>
    Array.from({ length: n }, () => attempt(command, input)).filter((r) => r === 'ok').length;
  return { ceiling, clock, attempt, times };
}

describe('ThroughputCeiling', () => {
  it('gives each item W writes a second: one item past W is throttled, other items keep their own W', () => {
    const { times } = ceilingAt(10);

    expect(times(15, 'UpdateItemCommand', update('hot'))).toBe(10);
    expect(times(15, 'UpdateItemCommand', update('other-1'))).toBe(10);
    expect(times(15, 'UpdateItemCommand', update('other-2'))).toBe(10);
  });

  it('refills each item at W units a second', () => {
    const { times, clock } = ceilingAt(10);
    times(10, 'UpdateItemCommand', update('hot'));

    clock.now = 300;
    expect(times(10, 'UpdateItemCommand', update('hot'))).toBe(3);
    clock.now = 5_000;
    expect(times(20, 'UpdateItemCommand', update('hot'))).toBe(10);
  });

  it('gives reads 3 W a second, in a bucket of their own', () => {
    const { times } = ceilingAt(10);
    times(10, 'UpdateItemCommand', update('hot'));

    expect(times(40, 'GetItemCommand', consistentGet('hot'))).toBe(30);
    expect(times(70, 'GetItemCommand', { TableName: 't', Key: key('eventual') })).toBe(60);
  });

  it('charges a transaction two units per item, and throttles it whole when one item is short', () => {
    const { ceiling, times, attempt } = ceilingAt(10);
    const transaction = (a: string, b: string) => ({
      TransactItems: [{ Update: { TableName: 't', Key: key(a) } }, { ConditionCheck: { TableName: 't', Key: key(b) } }],
    });

    expect(times(6, 'TransactWriteItemsCommand', transaction('x', 'y'))).toBe(5);
    times(9, 'UpdateItemCommand', update('z')); // z keeps 1 unit
    const before = { ...ceiling.stats.units };

    expect(attempt('TransactWriteItemsCommand', transaction('fresh', 'z'))).toBe('throttled');
    expect(ceiling.stats.units).toEqual(before); // 'fresh' was not charged either
    expect(times(10, 'UpdateItemCommand', update('fresh'))).toBe(10);
  });

  it('throws the SDK’s ProvisionedThroughputExceededException, with the reason DynamoDB gives a hot key', () => {
    const { ceiling } = ceilingAt(1);
    ceiling.charge('UpdateItemCommand', update('hot'));

    let thrown: unknown;
    try {
      ceiling.charge('UpdateItemCommand', update('hot'));
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(ProvisionedThroughputExceededException);
    const error = thrown as ProvisionedThroughputExceededException;
    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(error.$fault).toBe('client');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.ThrottlingReasons?.[0]?.reason).toBe('TableWriteKeyRangeThroughputExceeded');
  });

  it('counts what it let through and what it refused; ignores what touches no item', () => {
    const { ceiling, times } = ceilingAt(2);
    times(3, 'UpdateItemCommand', update('a'));
    times(1, 'GetItemCommand', consistentGet('a'));
    times(5, 'QueryCommand', { TableName: 't' });

    expect(ceiling.stats).toEqual({ admitted: 3, throttled: 1, units: { read: 1, write: 2 } });
    ceiling.reset();
    expect(ceiling.stats).toEqual({ admitted: 0, throttled: 0, units: { read: 0, write: 0 } });
    expect(times(2, 'UpdateItemCommand', update('a'))).toBe(2);
  });

  it('refuses a ceiling that is not a positive rate', () => {
    expect(() => new ThroughputCeiling({ writeUnitsPerSecond: 0 })).toThrow(RangeError);
    expect(() => new ThroughputCeiling({ writeUnitsPerSecond: 10, readUnitsPerSecond: -1 })).toThrow(RangeError);
  });
});
