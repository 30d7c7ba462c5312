/**
 * What the authorizer observed about one request: the answer it gave, what the answer cost,
 * and (when the caller's key is known) whose request it was. The authorizer turns it into
 * its metric line (CloudWatch embedded metric format); locally it is also handed to the
 * access log and the usage counters.
 */

/** What failed when the authorizer failed closed: the `Kind` of the `Faults` metric. */
export const FAULT_KINDS = ['dynamodb', 'jwks', 'plugin', 'config', 'contention', 'other'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The `reason` of an allowed request. */
export const ALLOWED_REASON = 'allowed';

/** The `reason` of a request that failed closed (the body of the 500 names it too). */
export const FAULT_REASON = 'authorizer_failure';

export type DecisionOutcome = 'allow' | 'deny' | 'fault';

export interface DecisionRecord {
  /** When the request arrived, epoch ms (the handler's clock). */
  readonly time: number;
  /** The UTC day of `time`, `yyyy-mm-dd`: the day its usage is counted on. */
  readonly day: string;
  readonly outcome: DecisionOutcome;
  /** `allowed`, the denial's reason (`rate_limited`…), or `authorizer_failure`. */
  readonly reason: string;
  /** What failed, when `outcome` is `fault`. */
  readonly faultKind?: FaultKind;
  /**
   * The key id (SHA-256 of the key, or of a JWT identity) the request is counted for —
   * absent when no existing key can be named: no credential, a bad token, `key_not_found`
   * (anyone can send a made-up key), a fault.
   */
  readonly keyId?: string;
  /** Time spent in the handler, ms. */
  readonly latencyMs: number;
  /** DynamoDB requests the handler sent (each SDK attempt counts: DynamoDB bills each one). */
  readonly dynamodbRequests: number;
  /** Of those, the conditional writes whose condition failed. */
  readonly conditionalCheckFailures: number;
  /** Of those, the ones DynamoDB throttled. */
  readonly throttles: number;
}

/**
 * The UTC day of an instant, `yyyy-mm-dd`.
 *
 * @example
 * utcDay(Date.UTC(2026, 0, 31, 23, 59)); // '2026-01-31'
 */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}
