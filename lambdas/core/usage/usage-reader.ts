import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { utcDay } from '../observability/decision-record.ts';
import { batchGetConsistent } from '../store/batch-get.ts';
import { daysBack, usageDayOf, usagePk, type UsageDay } from './usage-item.ts';

/** How many days `GET /keys/{keyId}/usage` answers: `days` from 1 to 90, 30 by default. */
export const USAGE_DAYS = { min: 1, max: 90, default: 30 } as const;

/** A key's usage over the last days, newest first, and its totals. */
export interface KeyUsage {
  readonly keyId: string;
  /** Every day asked for, today (UTC) first; days without requests hold zeros. */
  readonly days: readonly UsageDay[];
  readonly totals: { readonly allowed: number; readonly denied: Readonly<Record<string, number>> };
}

export interface UsageReaderOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
}

/**
 * Reads a key's per-day usage with one strongly consistent `BatchGetItem` (a day is one
 * item, so 30 days are 30 keys of one call): no query, no scan.
 *
 * @example
 * const usage = await new UsageReader({ client, tableName }).read(keyId, 7);
 * usage.days[0]; // { day: '2026-11-29', allowed: 120, denied: { rate_limited: 3 } }
 */
export class UsageReader {
  readonly #options: UsageReaderOptions;

  constructor(options: UsageReaderOptions) {
    this.#options = options;
  }

  async read(keyId: string, days: number = USAGE_DAYS.default): Promise<KeyUsage> {
    if (!Number.isInteger(days) || days < USAGE_DAYS.min || days > USAGE_DAYS.max) {
      throw new RangeError(`days must be a whole number from ${USAGE_DAYS.min} to ${USAGE_DAYS.max}, got ${days}`);
    }
    const nowMs = (this.#options.clock ?? Date.now)();
    const dayList = daysBack(utcDay(nowMs), days);
    const items = await batchGetConsistent(
      this.#options.client,
      this.#options.tableName,
      dayList.map((day) => usagePk(keyId, day)),
    );
    const perDay = dayList.map((day) => usageDayOf(day, items.get(usagePk(keyId, day)), Math.floor(nowMs / 1000)));
    return { keyId, days: perDay, totals: totalsOf(perDay) };
  }
}

function totalsOf(days: readonly UsageDay[]): KeyUsage['totals'] {
  let allowed = 0;
  const denied: Record<string, number> = {};
  for (const day of days) {
    allowed += day.allowed;
    for (const [reason, count] of Object.entries(day.denied)) denied[reason] = (denied[reason] ?? 0) + count;
  }
  return { allowed, denied: Object.fromEntries(Object.entries(denied).sort(([a, x], [b, y]) => y - x || a.localeCompare(b))) };
}
