import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/**
 * An execution role for a Lambda function that may write to its own log group and to
 * nothing else until the caller grants more. It replaces the role CDK would create with
 * the AWS managed `AWSLambdaBasicExecutionRole`, which allows writing to every log group
 * in the account (cdk-nag AwsSolutions-IAM4).
 *
 * @example
 * const role = functionRole(this, 'Role', logGroup, 'gatepass authorizer');
 * new lambda.Function(this, 'Function', { role, logGroup, … });
 */
export function functionRole(scope: Construct, id: string, logGroup: logs.LogGroup, description: string): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of the ${description}`,
  });
  // The log group's ARN ends in `:*`, which covers its log streams.
  logGroup.grants.write(role);
  return role;
}
