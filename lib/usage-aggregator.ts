import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-logs-destinations';
import { Construct } from 'constructs';
import { DECISION_LINE_FIELDS } from '../lambdas/core/usage/decision-line.ts';
import { USAGE } from '../lambdas/core/usage/usage-item.ts';
import { acknowledgeNodeRuntime, gatepassFunction } from './bundling.ts';
import { functionRole } from './function-role.ts';

/** Properties of {@link UsageAggregator}. */
export interface UsageAggregatorProps {
  /** The session table, where usage items are kept. */
  readonly table: dynamodb.ITable;
  /** The authorizer's log group, whose decision lines are counted. */
  readonly authorizerLogGroup: logs.ILogGroup;
  /**
   * Days a key's usage of a day is kept after that day ends (the items' TTL). The admin API
   * answers up to 90 days: keep 90 or more to see them all.
   *
   * @default 35
   */
  readonly retentionDays?: number;
  /**
   * Lambda timeout (a batch is a few transactions of up to 100 items).
   *
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Lambda memory.
   *
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Retention of the aggregator's own log group.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Removal policy of the aggregator's own log group.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Per-key usage, counted off the request path: a Lambda subscribed (CloudWatch Logs
 * subscription filter) to the authorizer's decision lines, which adds them up per key and
 * UTC day into `usage#<keyId>#<day>` items of the session table, each batch exactly once.
 * Its role may only write usage items and batch markers (`dynamodb:LeadingKeys`), with
 * `UpdateItem` and `PutItem` — what its `TransactWriteItems` is made of.
 *
 * @example
 * new UsageAggregator(this, 'Usage', { table: sessions.table, authorizerLogGroup: authorizer.logGroup });
 */
export class UsageAggregator extends Construct {
  /** The aggregator Lambda. */
  public readonly function: lambda.Function;
  /** Its log group. */
  public readonly logGroup: logs.LogGroup;
  /** Its execution role. */
  public readonly role: iam.Role;
  /** The subscription filter on the authorizer's log group. */
  public readonly subscription: logs.SubscriptionFilter;

  constructor(scope: Construct, id: string, props: UsageAggregatorProps) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? USAGE.defaultRetentionDays;
    if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 3650) {
      throw new Error(`gatepass: usage retentionDays must be a whole number from 1 to 3650, got ${retentionDays}`);
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy,
    });
    this.role = functionRole(this, 'Role', this.logGroup, 'gatepass usage aggregator');
    this.function = gatepassFunction(this, 'Function', 'lambdas/usage/handler.ts', {
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(60),
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        GATEPASS_TABLE_NAME: props.table.tableName,
        GATEPASS_USAGE_RETENTION_DAYS: String(retentionDays),
      },
      description: 'gatepass usage aggregator (per-key usage from the authorizer decision log)',
    });
    acknowledgeNodeRuntime(this.function);

    // Transactions are authorised item by item: the usage counters (UpdateItem) and the
    // batch markers (PutItem), and no other item of the table.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:UpdateItem', 'dynamodb:PutItem'],
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${USAGE.itemPrefix}*`, `${USAGE.batchPrefix}*`] } },
      }),
    );
    props.table.encryptionKey?.grantEncryptDecrypt(this.role);

    this.subscription = new logs.SubscriptionFilter(this, 'Decisions', {
      logGroup: props.authorizerLogGroup,
      destination: new destinations.LambdaDestination(this.function),
      filterPattern: decisionLinePattern(),
    });
  }
}

/**
 * The authorizer's decision lines that count for a key: JSON with a key id and a day. Its
 * log messages (which may carry `keyId`) have no `day`; faults and anonymous requests have
 * no `keyId`.
 */
export function decisionLinePattern(): logs.IFilterPattern {
  return logs.FilterPattern.all(
    logs.FilterPattern.exists(`$.${DECISION_LINE_FIELDS.keyId}`),
    logs.FilterPattern.exists(`$.${DECISION_LINE_FIELDS.day}`),
  );
}
