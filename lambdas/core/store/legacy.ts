import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { quotaUsedFor } from '../limits/limits.ts';
import { UpdateExpression } from './expression.ts';
import { oldItem, type StoredSession } from './item.ts';

/**
 * Session items written by gatepass 0.1 stored what was *left* (`quotaRemaining`,
 * `rateRemaining`, with the limits they were counted under in `armedLimits`), not what was
 * used. Such an item is moved to the current counters once, by the first request that reads
 * it, before anything is counted; the counting write refuses to take from an item that still
 * has `quotaRemaining` (see `count-write.ts`), so a legacy count is never lost.
 */

interface LegacyFields {
  readonly quotaRemaining?: unknown;
  readonly armedLimits?: { readonly quotaMax?: unknown };
}

/** True when `item` still holds 0.1's counters. */
export function isLegacy(item: StoredSession): boolean {
  return item.quotaUsed === undefined && typeof (item as LegacyFields).quotaRemaining === 'number';
}

/**
 * Moves an item's 0.1 counters to `quotaUsed` in one conditional write (compare-and-swap on
 * the `quotaRemaining` read), read under the quota they were counted under; the rate window starts afresh (a rate window lasts `per`
 * seconds). Returns the item as it is after the move (written, or moved by a concurrent request).
 */
export async function migrateLegacyCounters(
  client: DynamoDBDocumentClient,
  table: string,
  item: StoredSession,
  quotaMaxInForce: number,
): Promise<StoredSession | undefined> {
  const legacy = item as StoredSession & LegacyFields;
  const remaining = legacy.quotaRemaining as number;
  // 0.1 recorded the limits it counted under; without that record (a settings write set the
  // counters) they were the limits in force — the policies' for a key with policies.
  const countedUnder = typeof legacy.armedLimits?.quotaMax === 'number' ? legacy.armedLimits.quotaMax : quotaMaxInForce;
  const x = new UpdateExpression();
  x.when('still 0.1 counters', `attribute_not_exists(${x.name('quotaUsed')}) AND ${x.name('quotaRemaining')} = ${x.value(remaining)}`);
  x.set('quotaUsed', quotaUsedFor(countedUnder, remaining));
  for (const gone of ['quotaRemaining', 'rateRemaining', 'rateResetsAt', 'armedLimits', 'armedUntil']) x.remove(gone);
  try {
    const out = await client.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: item.pk },
        ...x.build(),
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return out.Attributes as StoredSession;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return oldItem(error);
    throw error;
  }
}
