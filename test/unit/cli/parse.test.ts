import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  collect,
  collectMeta,
  formatDuration,
  integer,
  parseDuration,
  parseDurationOrNever,
  parseJson,
  parseQuota,
  parseTime,
} from '../../../bin/commands/parse.ts';

describe('parseDuration', () => {
  it.each([
    ['90', 90],
    ['45s', 45],
    ['30m', 1800],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['2w', 1_209_600],
    ['1h30m', 5400],
    ['1d12h', 129_600],
  ])('reads %s as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '3x', '3 days', '-5', '1.5h', 'h', '30d ago', '1e3'])('rejects %j as a usage error', (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
  });

  it('rejects durations past 100 years', () => {
    expect(() => parseDuration('99999w')).toThrow(InvalidArgumentError);
  });

  it('reads never as 0 where "never" makes sense', () => {
    expect(parseDurationOrNever('never')).toBe(0);
    expect(parseDurationOrNever('1h')).toBe(3600);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [59, '59s'],
    [5400, '1h30m'],
    [86_400, '1d'],
    [2_592_000, '30d'],
    [1_209_600, '2w'],
    [90_061, '1d1h1m1s'],
  ])('writes %i seconds as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const seconds of [1, 61, 3599, 86_401, 604_800, 700_000]) expect(parseDuration(formatDuration(seconds))).toBe(seconds);
  });
});

describe('parseTime', () => {
  it('reads epoch seconds, ISO dates and never', () => {
    expect(parseTime('1800000000')).toBe(1_800_000_000);
    expect(parseTime('2030-01-31T12:00:00Z')).toBe(1_896_091_200);
    expect(parseTime('2030-01-31')).toBe(1_896_048_000);
    expect(parseTime('never')).toBe(0);
  });

  it.each(['tomorrow', 'Jan 5 2030', '', '12:00'])('rejects %j', (text) => {
    expect(() => parseTime(text)).toThrow(InvalidArgumentError);
  });
});

describe('the other option parsers', () => {
  it('reads quotas, with unlimited as -1', () => {
    expect(parseQuota('unlimited')).toBe(-1);
    expect(parseQuota('-1')).toBe(-1);
    expect(parseQuota('0')).toBe(0);
    expect(() => parseQuota('-2')).toThrow(InvalidArgumentError);
    expect(() => parseQuota('lots')).toThrow(InvalidArgumentError);
  });

  it('reads whole numbers with a minimum', () => {
    expect(integer(1)('25')).toBe(25);
    expect(() => integer(1)('0')).toThrow(InvalidArgumentError);
    expect(() => integer(0)('2.5')).toThrow(InvalidArgumentError);
    expect(() => integer(0)(' ')).toThrow(InvalidArgumentError);
  });

  it('collects repeated --meta name=value pairs, keeping = in values', () => {
    const meta = collectMeta('b=x=y', collectMeta('a=1'));
    expect(meta).toEqual({ a: '1', b: 'x=y' });
    expect(() => collectMeta('novalue')).toThrow(InvalidArgumentError);
    expect(() => collectMeta('=x')).toThrow(InvalidArgumentError);
  });

  it('collects repeated values and parses inline JSON', () => {
    expect(collect('b', collect('a'))).toEqual(['a', 'b']);
    expect(parseJson('{"api": {}}')).toEqual({ api: {} });
    expect(() => parseJson('{api}')).toThrow(InvalidArgumentError);
  });
});
