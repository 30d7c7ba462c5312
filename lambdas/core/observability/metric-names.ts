/**
 * The names of the authorizer's CloudWatch metrics: what the handler emits and what the
 * stack's dashboard and alarms read, in one place. Dimensions are low-cardinality only
 * (never a key id): the key id travels in the same log line as a plain property, where
 * usage counting and Contributor Insights read it.
 */
export const METRICS_NAMESPACE = 'Gatepass';

export const METRIC = {
  /** One per decision (Count), by `Outcome` and `Reason`. */
  decisions: 'Decisions',
  /** Time spent in the handler (Milliseconds), per decision and per fault. */
  latency: 'AuthorizerLatency',
  /** DynamoDB requests sent for one request (Count). */
  dynamodbRequests: 'DynamoDBRequests',
  /** Conditional writes whose condition failed, for one request (Count). */
  conditionalCheckFailures: 'ConditionalCheckFailures',
  /** DynamoDB requests throttled, for one request (Count). */
  throttles: 'Throttles',
  /** One per request that failed closed (Count), by `Kind`. */
  faults: 'Faults',
  /** Powertools' cold start metric (Count). */
  coldStart: 'ColdStart',
} as const;

export const DIMENSION = {
  outcome: 'Outcome',
  reason: 'Reason',
  kind: 'Kind',
  /**
   * Powertools' default dimension, on every metric. The authorizer sets it to its Lambda
   * function name, so that two deployments in one account and Region never mix.
   */
  service: 'service',
} as const;
