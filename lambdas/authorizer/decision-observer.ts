import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { ALLOWED_REASON, FAULT_REASON, utcDay, type DecisionRecord } from '../core/observability/decision-record.ts';
import type { Decision } from '../core/request/decision.ts';
import { UnauthorizedError, type AuthorizerEvent, type AuthorizerResult } from './events.ts';
import { faultKindOf } from './fault-kind.ts';
import { publishRecord } from './metrics.ts';
import { noteKeyId, observe, type Observation } from './observation.ts';

/** Receives each request's record (the local gateway: its access log and usage counters). */
export type DecisionListener = (record: DecisionRecord, event: AuthorizerEvent) => Promise<void> | void;

export interface DecisionObserverOptions {
  /** Where the metric lines go; `false`: none. */
  readonly metrics: Metrics | false;
  readonly onDecision?: DecisionListener;
  /** Epoch ms, for the record's time and UTC day. */
  readonly clock: () => number;
  readonly logger: Pick<Logger, 'warn'>;
}

/**
 * Watches each invocation and, once it has answered, turns what it saw into a
 * {@link DecisionRecord}: the answer actually given (an Allow, a Deny and its reason, a 401,
 * or a fault and its kind), the time spent, the DynamoDB requests sent, and the key id the
 * decision is counted for. The record becomes the request's metric line and is handed to
 * `onDecision`. Neither can change the answer: a failure to publish is logged and dropped.
 */
export class DecisionObserver {
  readonly #options: DecisionObserverOptions;

  constructor(options: DecisionObserverOptions) {
    this.#options = options;
  }

  /** Runs one invocation (`answer`) under observation; returns or throws what it does. */
  async observe(event: AuthorizerEvent, answer: () => Promise<AuthorizerResult>): Promise<AuthorizerResult> {
    const started = performance.now();
    const time = this.#options.clock();
    return observe(async (observation) => {
      if (this.#options.metrics) this.#options.metrics.captureColdStartMetric();
      let result: AuthorizerResult | undefined;
      let failure: { error: unknown } | undefined;
      try {
        result = await answer();
      } catch (error) {
        failure = { error };
      }
      const record = recordOf(result, failure, observation, { time, latencyMs: performance.now() - started });
      await this.#report(record, event);
      if (failure) throw failure.error;
      return result as AuthorizerResult;
    });
  }

  async #report(record: DecisionRecord, event: AuthorizerEvent): Promise<void> {
    try {
      if (this.#options.metrics) publishRecord(this.#options.metrics, record);
      await this.#options.onDecision?.(record, event);
    } catch (error) {
      this.#options.logger.warn('decision record not published', { error: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** Notes the key id the decision is about (none before an identity was found). */
export function noteDecision(decision: Decision): void {
  noteKeyId(decision.allow ? decision.context.keyId : decision.keyId);
}

/**
 * Denials that name no existing key. `key_not_found` carries the hash of whatever the
 * caller sent: counting it would let anyone create usage items with made-up keys.
 */
const NO_KEY_REASONS = new Set(['key_not_found', 'missing_credential']);

function recordOf(
  result: AuthorizerResult | undefined,
  failure: { error: unknown } | undefined,
  observation: Observation,
  at: { time: number; latencyMs: number },
): DecisionRecord {
  const base = {
    time: at.time,
    day: utcDay(at.time),
    latencyMs: at.latencyMs,
    dynamodbRequests: observation.dynamodbRequests,
    conditionalCheckFailures: observation.conditionalCheckFailures,
    throttles: observation.throttles,
  };
  if (failure && !(failure.error instanceof UnauthorizedError)) {
    return { ...base, outcome: 'fault', reason: FAULT_REASON, faultKind: faultKindOf(failure.error, observation) };
  }
  const { allow, reason } = failure ? { allow: false, reason: 'missing_credential' } : answerOf(result);
  const keyId = NO_KEY_REASONS.has(reason) ? undefined : observation.keyId;
  return { ...base, outcome: allow ? 'allow' : 'deny', reason, ...(keyId === undefined ? {} : { keyId }) };
}

/** Allow or Deny, and why, as API Gateway will read the answer. */
function answerOf(result: AuthorizerResult | undefined): { allow: boolean; reason: string } {
  const answer = (result ?? {}) as {
    isAuthorized?: boolean;
    policyDocument?: { Statement?: Array<{ Effect?: string }> };
    context?: Record<string, unknown> | null;
  };
  const allow = answer.isAuthorized ?? answer.policyDocument?.Statement?.[0]?.Effect === 'Allow';
  const reason = answer.context?.reason;
  return { allow, reason: allow ? ALLOWED_REASON : typeof reason === 'string' ? reason : 'denied' };
}
