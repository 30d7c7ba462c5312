import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CountPlan } from '../limits/limits.ts';
import { counterAttributes, type CounterAttributes, type CounterScope } from '../limits/scope.ts';
import { UpdateExpression } from './expression.ts';
import { oldItem, whenSameSettings, type SettingsGuard, type StoredSession } from './item.ts';

/** Outcome of a counting write: the item after it, or the item that made it fail (none if deleted). */
export type CountResult =
  | { readonly ok: true; readonly item: StoredSession }
  | { readonly ok: false; readonly current: StoredSession | undefined };

/**
 * The condition and update of counting one request as `plan` says, under the settings
 * `guard` names. Exported for tests; {@link countWrite} sends it.
 */
export function countExpression(guard: SettingsGuard, scope: CounterScope, plan: CountPlan): UpdateExpression {
  const x = new UpdateExpression();
  const names = counterAttributes(scope);
  x.when('the key exists', `attribute_exists(${x.name('pk')})`);
  whenSameSettings(x, guard);

  const now = Math.floor(plan.nowMs / 1000);
  if (plan.rate !== 'none') countRate(x, plan, names);
  if (plan.quota !== 'none') countQuota(x, plan, now, names);
  return x;
}

/** The rate window: take from the open one (still open, room left), or open the next (the last one is over). */
function countRate(x: UpdateExpression, plan: CountPlan, names: CounterAttributes): void {
  const { limits, nowMs } = plan;
  const rateUsed = x.name(names.rateUsed);
  const rateEnd = x.name(names.rateResetsAt);
  const usedAttribute = names.rateUsed;
  const endAttribute = names.rateResetsAt;
  if (plan.rate === 'take') {
    x.when('rate window open', `${rateEnd} > ${x.value(nowMs)}`);
    x.when('rate window has room', `${rateUsed} < ${x.value(limits.rate)}`);
    x.setTo(usedAttribute, `${rateUsed} + ${x.value(1)}`);
  } else {
    x.when('rate window over', `attribute_not_exists(${rateEnd}) OR ${rateEnd} <= ${x.value(nowMs)}`);
    x.set(usedAttribute, 1);
    x.set(endAttribute, nowMs + limits.per * 1000);
  }
}

/** The quota window: take from the current one (still open if it renews, room left), or open the next. */
function countQuota(x: UpdateExpression, plan: CountPlan, now: number, names: CounterAttributes): void {
  const { limits } = plan;
  const quotaUsed = x.name(names.quotaUsed);
  const usedAttribute = names.quotaUsed;
  const endAttribute = names.quotaRenews;
  if (plan.quota === 'take') {
    if (limits.quotaRenewalRate > 0) x.when('quota window open', `${x.name(endAttribute)} > ${x.value(now)}`);
    // A first count, or one more under the limit; never on 0.1's counters (see legacy.ts).
    const legacy = x.name('quotaRemaining');
    x.when(
      'quota has room',
      `(attribute_not_exists(${quotaUsed}) AND attribute_not_exists(${legacy})) OR ${quotaUsed} < ${x.value(limits.quotaMax)}`,
    );
    x.setTo(usedAttribute, `if_not_exists(${quotaUsed}, ${x.value(0)}) + ${x.value(1)}`);
  } else {
    const quotaEnd = x.name(endAttribute);
    x.when('quota window over', `attribute_not_exists(${quotaEnd}) OR ${quotaEnd} <= ${x.value(now)}`);
    x.set(usedAttribute, 1);
    x.set(endAttribute, now + limits.quotaRenewalRate);
  }
}

/**
 * Counts one request: one conditional UpdateItem that succeeds only if the settings are
 * still those the request was decided under and the counters still allow what the plan
 * assumed. On success the item as written comes back (ALL_NEW); on failure the item as it
 * is (ALL_OLD), to decide again without a read.
 *
 * If the answer is lost after the write landed, the SDK sends it again: a take then counts
 * the request twice, an open fails (the window is open now) and the request is decided
 * again — it errs toward denying, never toward granting.
 */
export async function countWrite(
  client: DynamoDBDocumentClient,
  table: string,
  pk: string,
  guard: SettingsGuard,
  scope: CounterScope,
  plan: CountPlan,
): Promise<CountResult> {
  try {
    const out = await client.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk },
        ...countExpression(guard, scope, plan).build(),
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { ok: true, item: out.Attributes as StoredSession };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { ok: false, current: oldItem(error) };
    throw error;
  }
}
