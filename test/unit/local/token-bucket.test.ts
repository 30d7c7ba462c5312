import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../local/token-bucket.ts';

describe('TokenBucket', () => {
  it('starts full: one second of units is the burst, then nothing more at the same instant', () => {
    const bucket = new TokenBucket(10, 0);

    const granted = Array.from({ length: 12 }, () => bucket.take(1, 0)).filter(Boolean).length;

    expect(granted).toBe(10);
  });

  it('refills continuously, at its rate', () => {
    const bucket = new TokenBucket(10, 0);
    bucket.take(10, 0);

    expect(bucket.take(1, 50)).toBe(false); // half a unit
    expect(bucket.take(1, 100)).toBe(true);
    expect(bucket.available(600)).toBeCloseTo(5);
  });

  it('never holds more than one second of units, however long it is idle', () => {
    const bucket = new TokenBucket(30, 0);

    expect(bucket.available(60_000)).toBe(30);
  });

  it('takes fractions (an eventually consistent read is half a unit)', () => {
    const bucket = new TokenBucket(1, 0);

    expect(bucket.take(0.5, 0)).toBe(true);
    expect(bucket.take(0.5, 0)).toBe(true);
    expect(bucket.take(0.5, 0)).toBe(false);
  });

  it('a refused take takes nothing', () => {
    const bucket = new TokenBucket(10, 0);
    bucket.take(9, 0);

    expect(bucket.take(2, 0)).toBe(false);
    expect(bucket.available(0)).toBe(1);
  });

  it('lets a take larger than the bucket through only when full, and then owes the rest', () => {
    const bucket = new TokenBucket(2, 0);

    expect(bucket.take(3, 0)).toBe(true);
    expect(bucket.available(0)).toBe(-1);
    expect(bucket.take(1, 500)).toBe(false); // back to 0
    expect(bucket.take(1, 1000)).toBe(true);
  });

  it('refills nothing when the clock steps back', () => {
    const bucket = new TokenBucket(10, 1000);
    bucket.take(10, 1000);

    expect(bucket.available(500)).toBe(0);
    expect(bucket.available(1100)).toBeCloseTo(1);
  });

  it('refuses a rate that is not a positive finite number', () => {
    expect(() => new TokenBucket(0, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.POSITIVE_INFINITY, 0)).toThrow(RangeError);
  });
});
