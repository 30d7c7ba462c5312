import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CountPlan, Step } from '../limits/limits.ts';
import { counterAttributes, type CounterScope } from '../limits/scope.ts';
import { UpdateExpression } from './expression.ts';
import { oldItem, whenGuard, type StoredSession, type WriteGuard } from './item.ts';

/** Outcome of a counting write: the item after it, or the item that made it fail (none if deleted). */
export type CountResult =
  | { readonly ok: true; readonly item: StoredSession }
  | {
      readonly ok: false;
      readonly current: StoredSession | undefined;
      /** A hot key's leases were taken under newer policies than the request decided under: read them again. */
      readonly stalePolicies?: true;
      /**
       * A hot key: its session item and enough of its counter items have no room, so a denial
       * on `current` (whose counts include the leases handed out) is sound. Without it, `current`
       * is only the key as it is now, to decide again on.
       */
      readonly noRoom?: true;
      /**
       * A hot key's counter items were busy (throttled, in conflict): nothing learned of the room.
       * `current` is the request's item with the counter items the count last saw (a cooling may
       * have halved them), to count again on; it is not a read.
       */
      readonly busy?: true;
    };

/** A busy count's result: counted again on the request's item `known`, with the `shards` counter items the count last saw. */
export function countAgain(known: StoredSession, shards: number): CountResult {
  return { ok: false, current: { ...known, shards }, busy: true };
}

/**
 * The condition and update of counting one request as `plan` says, under the settings
 * `guard` names. Exported for tests; {@link countWrite} sends it.
 */
export function countExpression(guard: WriteGuard, scope: CounterScope, plan: CountPlan): UpdateExpression {
  const x = new UpdateExpression();
  const names = counterAttributes(scope);
  whenGuard(x, guard);
  const { limits, nowMs } = plan;
  countWindow(x, 'rate', plan.rate, { used: names.rateUsed, start: names.rateStart }, limits.rate, limits.per, nowMs);
  countWindow(x, 'quota', plan.quota, { used: names.quotaUsed, start: names.quotaStart }, limits.quotaMax, limits.quotaRenewalRate, nowMs);
  return x;
}

/**
 * One window's step, written as the window rule of `limits.ts` says: `take` needs the window
 * open (`start > now - length`, or any start when the length is 0) and room under `limit`;
 * `open` needs the window over (no start, or `start <= now - length`; a window of length 0
 * never ends) and starts the next one now with this request.
 */
function countWindow(
  x: UpdateExpression,
  label: string,
  step: Step,
  attributes: { readonly used: string; readonly start: string },
  limit: number,
  lengthSeconds: number,
  nowMs: number,
): void {
  if (step === 'none') return;
  const used = x.name(attributes.used);
  const start = x.name(attributes.start);
  // The latest start of a window still open now (only a window that ends has one).
  const bound = () => x.value(nowMs - lengthSeconds * 1000);
  if (step === 'take') {
    x.when(`${label} window open`, lengthSeconds === 0 ? `attribute_exists(${start})` : `${start} > ${bound()}`);
    // No count yet in an open window (a partly written item) is a count of 0, as planCount reads it.
    x.when(`${label} window has room`, `attribute_not_exists(${used}) OR ${used} < ${x.value(limit)}`);
    x.setTo(attributes.used, `if_not_exists(${used}, ${x.value(0)}) + ${x.value(1)}`);
  } else {
    x.when(
      `${label} window over`,
      lengthSeconds === 0 ? `attribute_not_exists(${start})` : `attribute_not_exists(${start}) OR ${start} <= ${bound()}`,
    );
    x.set(attributes.used, 1);
    x.set(attributes.start, nowMs);
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
  guard: WriteGuard,
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
