import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DecisionRecord } from '../core/observability/decision-record.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../core/observability/metric-names.ts';
import { DECISION_LINE_FIELDS } from '../core/usage/decision-line.ts';

/**
 * The authorizer's metrics: Powertools Metrics in CloudWatch's embedded metric format, one
 * JSON line on stdout per request — no call to CloudWatch on the request path. The
 * `service` dimension is the Lambda function's name (`gatepass-authorizer` outside Lambda).
 */
export function createMetrics(serviceName = process.env.AWS_LAMBDA_FUNCTION_NAME || 'gatepass-authorizer'): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
}

/**
 * Writes a request's metric line. A decision is counted in `Decisions` by `Outcome` and
 * `Reason`; a fault in `Faults` by `Kind`. Latency and the DynamoDB counts go in the same
 * line, under the same dimensions and under `service` alone (the totals the alarms read).
 * A decision's line also carries its key id, UTC day, outcome and reason as plain properties
 * — not dimensions — which usage counting reads from the log.
 *
 * Everything is added and published synchronously, so that requests running at once in
 * one process never share a line.
 */
export function publishRecord(metrics: Metrics, record: DecisionRecord): void {
  if (record.outcome === 'fault') {
    metrics.addDimension(DIMENSION.kind, record.faultKind ?? 'other');
    metrics.addMetric(METRIC.faults, MetricUnit.Count, 1);
    metrics.addMetadata(DECISION_LINE_FIELDS.outcome, record.outcome);
  } else {
    metrics.addDimension(DIMENSION.outcome, record.outcome);
    metrics.addDimension(DIMENSION.reason, record.reason);
    metrics.addMetric(METRIC.decisions, MetricUnit.Count, 1);
    if (record.keyId !== undefined) metrics.addMetadata(DECISION_LINE_FIELDS.keyId, record.keyId);
    metrics.addMetadata(DECISION_LINE_FIELDS.day, record.day);
    metrics.addMetadata(DECISION_LINE_FIELDS.outcome, record.outcome);
    metrics.addMetadata(DECISION_LINE_FIELDS.reason, record.reason);
  }
  // An empty dimension set: the same metrics under `service` alone.
  metrics.addDimensions({});
  metrics.addMetric(METRIC.latency, MetricUnit.Milliseconds, Math.round(record.latencyMs * 1000) / 1000);
  metrics.addMetric(METRIC.dynamodbRequests, MetricUnit.Count, record.dynamodbRequests);
  metrics.addMetric(METRIC.conditionalCheckFailures, MetricUnit.Count, record.conditionalCheckFailures);
  metrics.addMetric(METRIC.throttles, MetricUnit.Count, record.throttles);
  metrics.publishStoredMetrics();
}
