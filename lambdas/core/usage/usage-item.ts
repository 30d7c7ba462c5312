import { TABLE } from '../model/table.ts';
import type { UsageDecision } from './decision-line.ts';

/**
 * Per-key, per-day usage in the session table: one item per key and UTC day,
 * `pk = usage#<keyId>#<yyyy-mm-dd>`, holding `allowed` and one `denied_<reason>` counter per
 * denial reason seen that day, and the table's TTL attribute. The items have no `kind`, so
 * they never appear in the key listings' index.
 */
export const USAGE = {
  itemPrefix: 'usage#',
  /** Marker items of the usage batches already counted: `usagebatch#<sha256>`. */
  batchPrefix: 'usagebatch#',
  allowed: 'allowed',
  deniedPrefix: 'denied_',
  /** Days a usage item is kept after its day ends. @default 35 (at least 30 days of history) */
  defaultRetentionDays: 35,
} as const;

const DAY_SECONDS = 86_400;

/** The partition key of a key's usage on a UTC day. */
export function usagePk(keyId: string, day: string): string {
  return `${USAGE.itemPrefix}${keyId}#${day}`;
}

/** The counter a decision adds to: `allowed`, or `denied_<reason>`. */
export function counterOf(decision: Pick<UsageDecision, 'outcome' | 'reason'>): string {
  return decision.outcome === 'allow' ? USAGE.allowed : `${USAGE.deniedPrefix}${decision.reason}`;
}

/**
 * The TTL (epoch s) of the usage of `day`: the end of that UTC day plus `retentionDays`.
 *
 * @example
 * usageTtl('2026-01-01', 35); // 2026-02-06T00:00:00Z in epoch seconds
 */
export function usageTtl(day: string, retentionDays: number): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000 + DAY_SECONDS * (1 + retentionDays);
}

/** One UTC day of a key's usage. */
export interface UsageDay {
  readonly day: string;
  readonly allowed: number;
  /** Denied requests by reason; only reasons seen that day. */
  readonly denied: Readonly<Record<string, number>>;
}

/**
 * The usage a stored item holds (no item: nothing that day). An item past its TTL counts
 * as gone: DynamoDB deletes expired items lazily, so a read must not depend on when.
 */
export function usageDayOf(day: string, item: Record<string, unknown> | undefined, nowSeconds: number): UsageDay {
  const ttl = item?.[TABLE.ttlAttribute];
  if (item === undefined || (typeof ttl === 'number' && ttl <= nowSeconds)) return { day, allowed: 0, denied: {} };
  const denied: Record<string, number> = {};
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(USAGE.deniedPrefix) && typeof value === 'number') denied[name.slice(USAGE.deniedPrefix.length)] = value;
  }
  const allowed = item[USAGE.allowed];
  return { day, allowed: typeof allowed === 'number' ? allowed : 0, denied: sortedByCount(denied) };
}

/** The UTC days from `today` back, newest first. */
export function daysBack(today: string, count: number): string[] {
  const start = Date.parse(`${today}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(start - i * DAY_SECONDS * 1000).toISOString().slice(0, 10));
}

function sortedByCount(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)));
}
