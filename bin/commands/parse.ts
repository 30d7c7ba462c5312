import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';

/**
 * Option parsers for commander: each turns a command-line string into a value or throws
 * `InvalidArgumentError`, which commander reports as a usage error (exit code 2).
 */

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/**
 * A human duration in seconds: `90` (seconds), `45s`, `30m`, `12h`, `30d`, `2w`, or a
 * combination such as `1h30m`.
 *
 * @example
 * parseDuration('30d'); // 2592000
 */
export function parseDuration(value: string): number {
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return checkedSeconds(Number(text), value);
  if (!/^([0-9]+[smhdw])+$/.test(text)) {
    throw new InvalidArgumentError(`"${value}" is not a duration (use a number of seconds or e.g. 45s, 30m, 12h, 30d, 2w, 1h30m)`);
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9]+)([smhdw])/g)) {
    total += Number(amount) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  }
  return checkedSeconds(total, value);
}

function checkedSeconds(seconds: number, value: string): number {
  if (!Number.isSafeInteger(seconds) || seconds > 100 * 366 * 86_400) throw new InvalidArgumentError(`"${value}" is too long a duration`);
  return seconds;
}

/** A duration, or `never` / `0` for "does not expire" (0). */
export function parseDurationOrNever(value: string): number {
  return value.trim() === 'never' ? 0 : parseDuration(value);
}

/** Seconds as a short human duration: 5400 → `1h30m`, 2592000 → `30d`, 1209600 → `2w`, 0 → `0s`. */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return `${seconds}s`;
  if (seconds % 604_800 === 0) return `${seconds / 604_800}w`;
  let rest = seconds;
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}

/** A whole number, at least `min`. */
export function integer(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`must be a whole number, at least ${min}`);
    return n;
  };
}

/** A quota: a whole number >= 0, or `unlimited` / `-1`. */
export function parseQuota(value: string): number {
  return value.trim() === 'unlimited' ? -1 : integer(-1)(value);
}

/** A point in time as epoch seconds: epoch seconds, an ISO 8601 date, or `never` (0). */
export function parseTime(value: string): number {
  const text = value.trim();
  if (text === 'never') return 0;
  if (/^[0-9]+$/.test(text)) return integer(0)(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new InvalidArgumentError(`"${value}" is not a time (use epoch seconds, an ISO date such as 2030-01-31T12:00:00Z, or never)`);
  }
  return Math.floor(ms / 1000);
}

/** Repeatable `--meta name=value`: collects into a map (values are strings). */
export function collectMeta(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`"${value}" is not name=value`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** Repeatable options (`--tag a --tag b`): collects into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A JSON value given inline. */
export function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('is not valid JSON');
  }
}

/** A usage problem found while running a command (bad file, bad JSON in it): exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The JSON in a file, or on standard input for `-`. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file === '-' ? 'standard input' : file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${file === '-' ? 'standard input' : file} is not valid JSON`);
  }
}
