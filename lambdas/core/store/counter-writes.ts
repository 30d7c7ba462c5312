import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GatepassError } from '../model/errors.ts';
import type { ConsumePlan } from '../limits/limits.ts';
import type { Arming, ConsumeResult, StoredSession } from './store.ts';

/**
 * The writes that count requests: each one conditional UpdateItem whose guards are the
 * assumptions the decision made, returning the item as written (ALL_NEW) or, when a guard
 * failed, the item as it is (ALL_OLD) — so a decision never needs a second read.
 */

/**
 * Consumes one request from the rate window and the quota, as planned by
 * `planConsumption` for the session at `version`. One conditional UpdateItem: it
 * succeeds only if the session is still at that version and the counters still allow
 * the planned step; otherwise the current item comes back for a new decision.
 */
export async function consumeWrite(
  client: DynamoDBDocumentClient,
  table: string,
  session: StoredSession,
  plan: Extract<ConsumePlan, { kind: 'consume' }>,
  nowMs: number,
  arming: Arming,
): Promise<ConsumeResult> {
  const now = Math.floor(nowMs / 1000);
  const sets: string[] = [];
  const conditions = ['#version = :version'];
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, unknown> = { ':version': session.version };

  if (plan.rate !== 'none') {
    Object.assign(names, { '#rr': 'rateRemaining', '#rra': 'rateResetsAt' });
    // Both names are used on either path: `open` guards on #rra and sets #rr.
    if (plan.rate === 'open') {
      sets.push('#rr = :rateLeft', '#rra = :rateResetsAt');
      if (plan.rateForced) {
        // New limits: compare-and-swap on the counters as read.
        conditions.push(session.rateResetsAt === undefined ? 'attribute_not_exists(#rra)' : '#rra = :oldRra');
        if (session.rateResetsAt !== undefined) values[':oldRra'] = session.rateResetsAt;
        if (session.rateRemaining !== undefined) {
          conditions.push('#rr = :oldRr');
          values[':oldRr'] = session.rateRemaining;
        }
      } else {
        conditions.push('(attribute_not_exists(#rra) OR #rra <= :nowMs)');
        values[':nowMs'] = nowMs;
      }
      Object.assign(values, { ':rateLeft': plan.rateRemainingAfterOpen, ':rateResetsAt': plan.rateResetsAt });
    } else {
      sets.push('#rr = #rr - :one');
      conditions.push('#rra > :nowMs', '#rr > :zero');
      Object.assign(values, { ':one': 1, ':zero': 0, ':nowMs': nowMs });
    }
  }
  if (plan.quota !== 'none') {
    names['#qr'] = 'quotaRemaining';
    if (plan.quota === 'open') {
      names['#qn'] = 'quotaRenews';
      sets.push('#qr = :quotaLeft', '#qn = :quotaRenews');
      if (plan.quotaForced) {
        conditions.push('#qn = :oldQn', '#qr = :oldQr');
        Object.assign(values, { ':oldQn': session.quotaRenews, ':oldQr': session.quotaRemaining });
      } else {
        conditions.push('#qn <= :now');
        values[':now'] = now;
      }
      Object.assign(values, { ':quotaLeft': plan.quotaRemainingAfterOpen, ':quotaRenews': plan.quotaRenews });
    } else {
      sets.push('#qr = #qr - :one');
      conditions.push('#qr > :zero');
      Object.assign(values, { ':one': 1, ':zero': 0 });
    }
  }
  // Record the limits the counters are now written under; arm the fast path if allowed.
  Object.assign(names, { '#al': 'armedLimits', '#rr': 'rateRemaining' });
  values[':armedLimits'] = arming.limits;
  sets.push('#al = :armedLimits');
  if (arming.until !== undefined) {
    names['#au'] = 'armedUntil';
    values[':armedUntil'] = arming.until;
    sets.push('#au = :armedUntil');
  }
  // The fast path decrements both counters unconditionally: make sure both exist.
  if (plan.rate === 'none') {
    sets.push('#rr = if_not_exists(#rr, :zero)');
    values[':zero'] = 0;
  }
  if (sets.length === 0) {
    throw new GatepassError('ERR_STORE', 'consume called with nothing to consume');
  }

  try {
    const out = await client.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: session.pk },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { ok: true, session: out.Attributes as StoredSession };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      return { ok: false, current: oldItem(error) };
    }
    throw error;
  }
}

/**
 * The fast path: one UpdateItem that checks what a read would have checked — the item
 * exists and is armed, not inactive, not expired, and the armed limits allow one more
 * request in the open windows — and takes one request from both counters. Counters of
 * a limit that is off (rate 0, quota -1) are decremented too, and mean nothing.
 * On success the item after the write comes back (for access rights and the context);
 * on failure, the item as it is (or none), for the full path — still without a read.
 */
export async function fastConsumeWrite(client: DynamoDBDocumentClient, table: string, pk: string, nowMs: number): Promise<ConsumeResult> {
  const now = Math.floor(nowMs / 1000);
  try {
    const out = await client.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk },
        UpdateExpression: 'SET #rr = #rr - :one, #qr = #qr - :one',
        ConditionExpression: [
          'attribute_exists(pk)',
          '#au > :now',
          '#inactive = :false',
          '(#expires = :zero OR #expires > :now)',
          '(#al.#rate = :zero OR (#rra > :nowMs AND #rr > :zero))',
          '(#al.#quotaMax = :unlimited OR (#qr > :zero AND (#al.#renewal = :zero OR #qn > :now)))',
        ].join(' AND '),
        ExpressionAttributeNames: {
          '#rr': 'rateRemaining', '#rra': 'rateResetsAt', '#qr': 'quotaRemaining', '#qn': 'quotaRenews',
          '#au': 'armedUntil', '#al': 'armedLimits', '#rate': 'rate', '#quotaMax': 'quotaMax',
          '#renewal': 'quotaRenewalRate', '#inactive': 'isInactive', '#expires': 'expires',
        },
        ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':unlimited': -1, ':false': false, ':now': now, ':nowMs': nowMs },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { ok: true, session: out.Attributes as StoredSession };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { ok: false, current: oldItem(error) };
    throw error;
  }
}

/**
 * Gives back the request a fast-path write took, when a check after it denied the
 * request (access rights, an inactive or missing policy). Only into the same windows: if
 * one has rolled over since, the request was counted in a window that is gone anyway.
 */
export async function refundWrite(client: DynamoDBDocumentClient, table: string, taken: StoredSession): Promise<void> {
  const guard = taken.rateResetsAt === undefined ? 'attribute_not_exists(#rra)' : '#rra = :rra';
  try {
    await client.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: taken.pk },
        UpdateExpression: 'SET #rr = #rr + :one, #qr = #qr + :one',
        // Same windows, and no settings write since (an admin may have set the counters).
        ConditionExpression: `attribute_exists(pk) AND #version = :version AND #qn = :qn AND ${guard}`,
        ExpressionAttributeNames: {
          '#rr': 'rateRemaining', '#rra': 'rateResetsAt', '#qr': 'quotaRemaining', '#qn': 'quotaRenews', '#version': 'version',
        },
        ExpressionAttributeValues: {
          ':one': 1,
          ':version': taken.version,
          ':qn': taken.quotaRenews,
          ...(taken.rateResetsAt === undefined ? {} : { ':rra': taken.rateResetsAt }),
        },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/**
 * The item that made a condition fail. DynamoDB returns it on the exception in raw
 * AttributeValue form, even through the DocumentClient.
 */
export function oldItem(error: ConditionalCheckFailedException): StoredSession | undefined {
  const raw = (error as { Item?: Record<string, never> }).Item;
  return raw === undefined ? undefined : (unmarshall(raw) as StoredSession);
}
