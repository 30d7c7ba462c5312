import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { counterItemPk, MAX_COUNTER_ITEMS } from '../../lambdas/core/store/counter-items.ts';

/**
 * A hot key's quota account as stored, for attack tests: the session item's count, the
 * unspent leases that still count on it (its version, its window), and every counter item
 * that holds a lease it should not (beyond `shards`, or under another version or window).
 */
export interface HotAccount {
  readonly used: number;
  readonly unspent: number;
  readonly version: number;
  readonly shards: number;
  /** Counter items at the session's version holding a quota lease. */
  readonly leased: number;
  /** Counter items holding an unspent quota lease that the session no longer counts (index, version): none should be spendable. */
  readonly strays: readonly string[];
}

/** Reads `pk`'s session item and every counter item it may have (all 64), consistently. */
export async function hotAccount(doc: DynamoDBDocumentClient, tableName: string, pk: string): Promise<HotAccount> {
  const get = async (key: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: key }, ConsistentRead: true }))).Item as
      | Record<string, unknown>
      | undefined;
  const session = (await get(pk))!;
  const shards = (session.shards as number | undefined) ?? 0;
  const items = await Promise.all(Array.from({ length: MAX_COUNTER_ITEMS }, (_, i) => get(counterItemPk(pk, i))));
  let unspent = 0;
  let leased = 0;
  const strays: string[] = [];
  items.forEach((item, i) => {
    if (item?.quotaLease === undefined) return;
    const left = (item.quotaLease as number) - (item.quotaSpent as number);
    const counts =
      i < shards &&
      item.version === session.version &&
      item.incarnation === session.incarnation &&
      item.quotaStart === session.quotaStart &&
      item.leaseTag === (session.leaseTag ?? item.leaseTag);
    if (counts) {
      leased++;
      unspent += left;
    } else if (left > 0 && item.incarnation === session.incarnation) strays.push(`#c${i}@v${String(item.version)}`);
  });
  return { used: session.quotaUsed as number, unspent, version: session.version as number, shards, leased, strays };
}

/** The answers' reasons counted (`allow`, a denial's reason, or a fault's name). */
export function reasonsOf(answers: readonly (Decision | Error)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const reason = a instanceof Error ? a.name : a.allow ? 'allow' : a.reason;
    out[reason] = (out[reason] ?? 0) + 1;
  }
  return out;
}

/** Allows among `answers`. */
export function allowsOf(answers: readonly (Decision | Error)[]): number {
  return answers.filter((a) => !(a instanceof Error) && a.allow).length;
}
