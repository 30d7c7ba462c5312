import { Duration, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { functionRole } from './function-role.ts';
import type { GatepassAuthorizer } from './gatepass-authorizer.ts';
import { addGatepassGatewayResponses } from './gateway-responses.ts';

/** Properties of {@link DemoApi}. */
export interface DemoApiProps {
  /** The authorizer that guards every route. */
  readonly authorizer: GatepassAuthorizer;
  /**
   * Name of the REST API.
   *
   * @default 'gatepass-demo'
   */
  readonly restApiName?: string;
}

/**
 * Echo backend of the demo API: answers the request and the authorizer context as JSON,
 * like the local gateway's built-in echo. Headers are left out: they hold the raw key.
 */
const ECHO_CODE = `exports.handler = async (event) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    method: event.httpMethod,
    path: event.path,
    query: event.queryStringParameters ?? {},
    authorizer: event.requestContext.authorizer ?? {},
  }),
});`;

/**
 * A REST API (`gatepass-demo`) whose every route (`ANY /`, `ANY /{proxy+}`) is guarded by
 * gatepass and answered by an echo function, with gatepass's gateway responses: what
 * `gatepass dev` serves locally, deployed.
 */
export class DemoApi extends Construct {
  /** The REST API. */
  public readonly api: apigateway.RestApi;
  /** The echo backend. */
  public readonly echo: lambda.Function;
  /** The echo function's execution role (it may only write its log group). */
  public readonly echoRole: iam.Role;

  constructor(scope: Construct, id: string, props: DemoApiProps) {
    super(scope, id);

    const logGroup = new logs.LogGroup(this, 'EchoLogGroup', { retention: logs.RetentionDays.ONE_MONTH });
    this.echoRole = functionRole(this, 'EchoRole', logGroup, 'gatepass demo echo backend');
    this.echo = new lambda.Function(this, 'Echo', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(ECHO_CODE),
      timeout: Duration.seconds(3),
      role: this.echoRole,
      logGroup,
      description: 'gatepass demo backend: echoes the request and the authorizer context',
    });
    Validations.of(this.echo).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The demo backend runs on the same Node.js 22 runtime as gatepass itself.',
    });

    // cloudWatchRole off: the role is an account-wide singleton (AWS::ApiGateway::Account) that a demo must not own.
    this.api = new apigateway.RestApi(this, 'Api', { restApiName: props.restApiName ?? 'gatepass-demo', cloudWatchRole: false });
    const methodOptions: apigateway.MethodOptions = {
      authorizer: props.authorizer.forRestApi(this.api),
      authorizationType: apigateway.AuthorizationType.CUSTOM,
    };
    const integration = new apigateway.LambdaIntegration(this.echo);
    const methods = [
      this.api.root.addMethod('ANY', integration, methodOptions),
      this.api.root.addResource('{proxy+}').addMethod('ANY', integration, methodOptions),
    ];
    addGatepassGatewayResponses(this.api);

    for (const method of methods) {
      Validations.of(method).acknowledge({
        id: 'AwsSolutions-COG4',
        reason: 'gatepass (a Lambda REQUEST authorizer) is the authorizer of this API; a Cognito user pool is not used by design.',
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'The demo API proxies any request to an echo function: there is no request model or required parameter to validate.',
    });
    const noLogging =
      'API Gateway logs (access and execution) need the account-wide CloudWatch role (AWS::ApiGateway::Account), which a demo stack must not take over; the authorizer logs every decision with its reason.';
    Validations.of(this.api.deploymentStage).acknowledge(
      { id: 'AwsSolutions-APIG1', reason: noLogging },
      { id: 'AwsSolutions-APIG6', reason: noLogging },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'WAF is a per-deployment choice with its own cost; the demo API serves an echo backend. Attach a web ACL to production APIs.',
      },
    );
  }
}
