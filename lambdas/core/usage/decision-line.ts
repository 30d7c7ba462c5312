import { ALLOWED_REASON, type DecisionRecord } from '../observability/decision-record.ts';

/**
 * The plain properties of the authorizer's decision log line that usage counting reads.
 * They are not metric dimensions (a key id would make one metric per key): CloudWatch
 * ignores them when it extracts the metrics, and the usage aggregator, subscribed to the
 * authorizer's log group, counts them.
 */
export const DECISION_LINE_FIELDS = {
  keyId: 'keyId',
  day: 'day',
  outcome: 'outcome',
  reason: 'reason',
} as const;

/** One decision as usage counts it: whose, which UTC day, allowed or denied and why. */
export interface UsageDecision {
  readonly keyId: string;
  readonly day: string;
  readonly outcome: 'allow' | 'deny';
  /** `allowed` for an allow. */
  readonly reason: string;
}

const KEY_ID = /^[0-9a-f]{64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Reasons are snake_case codes (gatepass's own, or a plugin's). */
const REASON = /^[a-z][a-z0-9_]{0,63}$/;

/** The usage decision of a record, or `undefined` when it counts for no key (a fault, no key id). */
export function usageDecisionOf(record: DecisionRecord): UsageDecision | undefined {
  if (record.outcome === 'fault' || record.keyId === undefined) return undefined;
  return valid({ keyId: record.keyId, day: record.day, outcome: record.outcome, reason: record.reason });
}

/**
 * The usage decision a log line carries, or `undefined` for any other line (a log message,
 * a fault's metric line, a line that is not JSON or not well formed). Never throws: a log
 * group holds whatever the function printed.
 *
 * @example
 * parseDecisionLine('{"_aws":{…},"keyId":"5976…","day":"2026-11-29","outcome":"deny","reason":"rate_limited",…}');
 * // { keyId: '5976…', day: '2026-11-29', outcome: 'deny', reason: 'rate_limited' }
 */
export function parseDecisionLine(message: string): UsageDecision | undefined {
  const text = message.trim();
  if (!text.startsWith('{')) return undefined;
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (line === null || typeof line !== 'object' || !('_aws' in line)) return undefined;
  const fields = line as Record<string, unknown>;
  const { keyId, day, outcome, reason } = DECISION_LINE_FIELDS;
  if (fields[outcome] !== 'allow' && fields[outcome] !== 'deny') return undefined;
  return valid({
    keyId: fields[keyId] as string,
    day: fields[day] as string,
    outcome: fields[outcome] as 'allow' | 'deny',
    reason: fields[reason] as string,
  });
}

function valid(decision: UsageDecision): UsageDecision | undefined {
  const { keyId, day, outcome, reason } = decision;
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) return undefined;
  if (typeof day !== 'string' || !DAY.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) return undefined;
  if (typeof reason !== 'string' || !REASON.test(reason)) return undefined;
  if ((outcome === 'allow') !== (reason === ALLOWED_REASON)) return undefined;
  return { keyId, day, outcome, reason };
}
