import { Annotations, Duration, Lazy, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Config } from '../lambdas/core/model/config.ts';
import { dynamoCallBudgetMs } from '../lambdas/core/store/dynamo-client.ts';
import { acknowledgeNodeRuntime, gatepassFunction } from './bundling.ts';
import { functionRole } from './function-role.ts';
import type { AttachToRestApiOptions, GatepassAuthorizerProps, RestApiAttachment } from './gatepass-authorizer-props.ts';
import { gatepassConfig } from './gatepass-config.ts';
import { httpIdentitySource } from './identity-sources.ts';
import type { PluginLayer } from './plugin-layer.ts';

/**
 * The gatepass authorizer Lambda (Node.js 22, ARM64, ESM) and the API Gateway authorizers
 * that attach it to REST and HTTP APIs. Its role may only GetItem, PutItem and UpdateItem on
 * the table, and write its own log group.
 *
 * @example
 * const gatepass = new GatepassAuthorizer(this, 'Authorizer', { table: sessions.table });
 * gatepass.addPlugin(new PluginLayer(this, 'Renew', { entry: 'plugins/renew-on-expiry.ts' }));
 * api.root.addMethod('GET', integration, { authorizer: gatepass.forRestApi(api) });
 */
export class GatepassAuthorizer extends Construct {
  /** The authorizer Lambda. */
  public readonly function: lambda.Function;
  /** The function's log group. */
  public readonly logGroup: logs.LogGroup;
  /** The function's execution role. */
  public readonly role: iam.Role;

  private readonly baseConfig: Config;
  private readonly pluginNames: string[];
  private readonly resultsCacheTtl: Duration;
  private readonly identitySources: readonly string[];
  private readonly restAuthorizers = new Map<apigateway.IRestApi, apigateway.RequestAuthorizer>();
  private readonly httpAuthorizers = new Map<apigwv2.IHttpApi, HttpLambdaAuthorizer>();
  private readonly attachments = new Map<string, RestApiAttachment>();

  constructor(scope: Construct, id: string, props: GatepassAuthorizerProps) {
    super(scope, id);

    this.resultsCacheTtl = props.resultsCacheTtl ?? Duration.seconds(0);
    this.baseConfig = gatepassConfig(props.table.tableName, props, this.resultsCacheTtl.toSeconds());
    this.pluginNames = [...this.baseConfig.plugins];
    const timeout = props.timeout ?? Duration.seconds(3);
    if (!timeout.isUnresolved() && this.baseConfig.hookTimeoutMs >= timeout.toMilliseconds()) {
      throw new Error(
        `gatepass: hookTimeoutMs (${this.baseConfig.hookTimeoutMs}) must be shorter than the Lambda timeout (${timeout.toHumanString()})`,
      );
    }
    // A slow DynamoDB must fail the request (500) before Lambda times it out: room for two calls at their worst.
    if (!timeout.isUnresolved() && timeout.toMilliseconds() < 2 * dynamoCallBudgetMs()) {
      throw new Error(
        `gatepass: the Lambda timeout (${timeout.toHumanString()}) must be at least ${2 * dynamoCallBudgetMs()} ms: two DynamoDB calls at their worst (see DYNAMODB_TIMEOUTS)`,
      );
    }
    const caching = this.baseConfig.resultsCacheTtl > 0;
    this.identitySources = props.identitySources ?? (caching ? [apigateway.IdentitySource.header(this.baseConfig.apiKeyHeader)] : []);
    if (caching && this.identitySources.length === 0) {
      throw new Error('gatepass: result caching needs at least one identity source (the cache key)');
    }
    if (caching) {
      Annotations.of(this).addWarningV2(
        'gatepass:resultsCacheTtl',
        'Authorizer result caching is on: decisions are served stale for up to resultsCacheTtl (quotas become inexact, renewed or revoked keys lag), the identity sources become the cache key and are required on every request, and Allow policies cover the whole API.',
      );
    }
    if (props.jwt?.secret !== undefined) {
      Annotations.of(this).addWarningV2(
        'gatepass:jwtSecret',
        'jwt.secret is stored in clear text in the template and the Lambda environment.',
      );
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy,
    });
    this.role = functionRole(this, 'Role', this.logGroup, 'gatepass authorizer');
    this.function = gatepassFunction(this, 'Function', 'lambdas/authorizer/handler.ts', {
      memorySize: props.memorySize ?? 256,
      timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : undefined,
      reservedConcurrentExecutions: props.reservedConcurrency,
      layers: props.layers ? [...props.layers] : undefined,
      environment: {
        // Lazy: plugins added after construction (addPlugin) are in it too.
        GATEPASS_CONFIG: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.config) }),
      },
      description: 'gatepass authorizer',
    });
    acknowledgeNodeRuntime(this.function);
    if (props.tracing) {
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
      });
    }

    // Written out instead of grantReadWriteData: no Scan, Query, BatchWrite or DeleteItem.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
      }),
    );
    props.table.encryptionKey?.grantEncryptDecrypt(this.role);
  }

  /** The `GATEPASS_CONFIG` object the function receives (the table name may be a token). */
  public get config(): Config {
    return { ...this.baseConfig, plugins: [...this.pluginNames] };
  }

  /**
   * Attaches a plugin: its layer is added to the function and its name appended to the
   * config's `plugins`, so plugins run in the order they are added (after any named in the
   * `plugins` prop). Lambda allows at most 5 layers per function.
   */
  public addPlugin(plugin: PluginLayer): void {
    if (this.pluginNames.includes(plugin.pluginName)) {
      throw new Error(`gatepass: a plugin named "${plugin.pluginName}" is already configured`);
    }
    this.function.addLayers(plugin.layer);
    this.pluginNames.push(plugin.pluginName);
  }

  /**
   * The REQUEST authorizer for `api` (created on first call, then reused). API Gateway binds
   * an authorizer to exactly one REST API, so each API gets its own. `api` may be a `RestApi`
   * in this app — in this stack or another one — or one imported with
   * `RestApi.fromRestApiAttributes`.
   *
   * The authorizer and its invoke permission are created under the API, in the API's stack,
   * which then refers to this function's ARN (and never the other way round): an API in
   * another stack does not make a dependency cycle. The API's deployment gets the
   * authorizer's settings in its logical id, so a change of them (cache TTL, identity
   * sources) deploys the stage again, with or without the
   * `@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId` feature flag.
   */
  public forRestApi(api: apigateway.IRestApi): apigateway.RequestAuthorizer {
    let authorizer = this.restAuthorizers.get(api);
    if (!authorizer) {
      const scope = api instanceof Construct ? api : this;
      const id = `GatepassAuthorizer${Names.nodeUniqueId(this.node)}`;
      const handler = lambda.Function.fromFunctionAttributes(scope, `${id}Function`, {
        functionArn: this.function.functionArn,
        sameEnvironment: true,
      });
      authorizer = new apigateway.RequestAuthorizer(scope, id, {
        handler,
        resultsCacheTtl: this.resultsCacheTtl,
        identitySources: [...this.identitySources],
      });
      const apiStack = Stack.of(scope);
      if (apiStack !== Stack.of(this)) {
        // CDK writes the URI's Region and partition as an Fn::Split of the function's ARN,
        // which in another stack is an Fn::GetStackOutput under weak cross-stack references
        // (the repository's cdk.json): CloudFormation documents no Fn::GetStackOutput inside
        // Fn::Split, and cfn-lint refuses it (E1022). The API's own stack knows both.
        (authorizer.node.defaultChild as apigateway.CfnAuthorizer).authorizerUri =
          `arn:${apiStack.partition}:apigateway:${apiStack.region}:lambda:path/2015-03-31/functions/${this.function.functionArn}/invocations`;
      }
      api.latestDeployment?.addToLogicalId({
        gatepassAuthorizer: { id, resultsCacheTtl: this.resultsCacheTtl.toSeconds(), identitySources: [...this.identitySources] },
      });
      this.restAuthorizers.set(api, authorizer);
    }
    return authorizer;
  }

  /**
   * Creates the REQUEST authorizer in an existing REST API that this app does not manage
   * (created once per id), with the same identity sources and cache TTL as
   * {@link forRestApi}, and lets API Gateway invoke the function from that authorizer only.
   *
   * Nothing is guarded yet when this deploys: set each method's authorization to `CUSTOM`
   * with the returned `authorizerId`, then deploy the stage again (API Gateway serves the
   * last deployment). docs/DEPLOY.md shows the two `aws apigateway` commands. When the
   * methods are in this app, use {@link forRestApi} instead.
   */
  public attachToRestApiId(restApiId: string, options: AttachToRestApiOptions = {}): RestApiAttachment {
    const existing = this.attachments.get(restApiId);
    if (existing) return existing;
    const suffix = Token.isUnresolved(restApiId) ? String(this.attachments.size) : restApiId;
    const scope = new Construct(this, `RestApi${suffix}`);
    const stack = Stack.of(this);
    const authorizer = new apigateway.CfnAuthorizer(scope, 'Authorizer', {
      restApiId,
      name: options.authorizerName ?? Names.uniqueResourceName(scope, { maxLength: 128, separator: '-' }),
      type: 'REQUEST',
      authorizerUri: `arn:${stack.partition}:apigateway:${stack.region}:lambda:path/2015-03-31/functions/${this.function.functionArn}/invocations`,
      authorizerResultTtlInSeconds: this.resultsCacheTtl.toSeconds(),
      identitySource: this.identitySources.join(','),
    });
    const permission = new lambda.CfnPermission(scope, 'Permission', {
      action: 'lambda:InvokeFunction',
      functionName: this.function.functionArn,
      principal: 'apigateway.amazonaws.com',
      sourceArn: stack.formatArn({ service: 'execute-api', resource: restApiId, resourceName: `authorizers/${authorizer.ref}` }),
    });
    const attachment: RestApiAttachment = {
      restApiId,
      authorizerId: authorizer.ref,
      authorizationType: apigateway.AuthorizationType.CUSTOM,
      authorizer,
      permission,
    };
    this.attachments.set(restApiId, attachment);
    return attachment;
  }

  /**
   * The Lambda authorizer for routes of the HTTP API `api` (created on first call, then
   * reused: one authorizer binds to one API). It answers as the config's `httpApiResponse`
   * says — `simple` (payload 2.0) or `iam` — with the same cache TTL and identity sources
   * as the REST authorizers. HTTP APIs have no gateway responses: a denial is API Gateway's
   * plain 403 `{"message":"Forbidden"}`; the reason is in the authorizer's log.
   *
   * @example
   * httpApi.addRoutes({ path: '/orders', integration, authorizer: gatepass.forHttpApi(httpApi) });
   */
  public forHttpApi(api: apigwv2.IHttpApi): HttpLambdaAuthorizer {
    let authorizer = this.httpAuthorizers.get(api);
    if (!authorizer) {
      const simple = this.baseConfig.httpApiResponse === 'simple';
      authorizer = new HttpLambdaAuthorizer(`GatepassAuthorizer${Names.nodeUniqueId(this.node)}`, this.function, {
        responseTypes: [simple ? HttpLambdaResponseType.SIMPLE : HttpLambdaResponseType.IAM],
        resultsCacheTtl: this.resultsCacheTtl,
        identitySource: this.identitySources.map(httpIdentitySource),
      });
      this.httpAuthorizers.set(api, authorizer);
    }
    return authorizer;
  }
}
