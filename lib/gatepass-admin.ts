import { Duration, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { TABLE } from '../lambdas/core/model/table.ts';
import { acknowledgeNodeRuntime, gatepassFunction } from './bundling.ts';
import { functionRole } from './function-role.ts';
import { gatepassConfig, type GatepassConfigProps } from './gatepass-config.ts';

/** Properties of {@link GatepassAdmin}. */
export interface GatepassAdminProps extends GatepassConfigProps {
  /** The session table (usually `SessionTable.table`). */
  readonly table: dynamodb.ITable;
  /**
   * Lambda timeout (the admin API does a few DynamoDB calls; a list page is at most 16 small
   * Queries, one per shard of the keys-only `kind-index`: nothing scans the table).
   *
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Lambda memory.
   *
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Retention of the function's log group.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Removal policy of the function's log group.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The admin API Lambda (keys, policies and usage; the routes are listed in the README) behind a Function URL with `AWS_IAM`
 * auth: it is never reachable without IAM credentials. The CLI calls the URL or invokes the
 * function directly.
 *
 * @example
 * const admin = new GatepassAdmin(this, 'Admin', { table: sessions.table });
 * admin.url.grantInvokeUrl(operatorsRole);
 */
export class GatepassAdmin extends Construct {
  /** The admin Lambda. */
  public readonly function: lambda.Function;
  /** Its IAM-auth Function URL. */
  public readonly url: lambda.FunctionUrl;
  /** The function's log group. */
  public readonly logGroup: logs.LogGroup;
  /** The function's execution role. */
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: GatepassAdminProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy,
    });
    this.role = functionRole(this, 'Role', this.logGroup, 'gatepass admin API');
    this.function = gatepassFunction(this, 'Function', 'lambdas/admin/handler.ts', {
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        GATEPASS_CONFIG: Stack.of(this).toJsonString(gatepassConfig(props.table.tableName, props)),
        NODE_OPTIONS: '--enable-source-maps',
      },
      description: 'gatepass admin API',
    });
    acknowledgeNodeRuntime(this.function);

    // Written out so that the grant is exactly the admin API's needs (no scan, no batch writes).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchGetItem'],
        resources: [props.table.tableArn],
      }),
    );
    // Listing goes through the keys-only indexes, never a table scan.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${props.table.tableArn}/index/${TABLE.aliasIndex.name}`, `${props.table.tableArn}/index/${TABLE.kindIndex.name}`],
      }),
    );
    props.table.encryptionKey?.grantEncryptDecrypt(this.role);

    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  }
}
