import { Duration, RemovalPolicy, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Node } from 'constructs';
import { readAppContext } from './app-context.ts';
import { GatepassStack, type GatepassStackProps } from './gatepass-stack.ts';

export { CONTEXT_KEYS } from './app-context.ts';

/**
 * The CDK app of `bin/app.ts`: one {@link GatepassStack} (construct id `Gatepass`) configured
 * from the app's context, checked by cdk-nag's AwsSolutions pack on every synth (an
 * unacknowledged error fails the synth).
 *
 * @example
 * buildGatepassApp(new App());
 */
export function buildGatepassApp(app: App): GatepassStack {
  const stack = new GatepassStack(app, 'Gatepass', {
    ...gatepassStackPropsFromContext(app.node),
    description: 'gatepass: a strongly consistent Lambda authorizer for API Gateway',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

const REMOVAL_POLICIES = { retain: RemovalPolicy.RETAIN, snapshot: RemovalPolicy.SNAPSHOT, destroy: RemovalPolicy.DESTROY } as const;

/**
 * The stack's props from the app's context (see `AppContextSchema`). An unknown key or a
 * bad value fails here, naming it; the config schema then checks the runtime settings
 * again, as the Lambdas do at cold start.
 *
 * @example
 * // npx cdk deploy -c restApiIds=a1b2c3d4e5 -c alarmTopicArn=arn:aws:sns:eu-west-1:123456789012:oncall
 * new GatepassStack(app, 'Gatepass', gatepassStackPropsFromContext(app.node));
 */
export function gatepassStackPropsFromContext(node: Node): GatepassStackProps & { readonly stackName: string } {
  const c = readAppContext(node.getAllContext() as Record<string, unknown>);
  const config = {
    ...optional('jwt', c.jwt),
    ...optional('apiKeyHeader', c.apiKeyHeader),
    ...optional('hookTimeoutMs', c.hookTimeoutMs),
    ...optional('policyCacheSeconds', c.policyCacheSeconds),
    ...optional('sessionRetentionSeconds', c.sessionRetentionSeconds),
    ...optional('httpApiResponse', c.httpApiResponse),
  };
  const gatewayResponseOptions = {
    ...optional('headers', c.gatewayResponseHeaders),
    ...optional('wwwAuthenticate', c.wwwAuthenticate),
    ...optional('otherAuthorizers', c.otherAuthorizers),
  };
  return {
    stackName: c.stackName ?? 'Gatepass',
    ...optional('tableName', c.tableName),
    ...optional('existingTableName', c.existingTableName),
    ...optional('tableRemovalPolicy', c.tableRemovalPolicy && REMOVAL_POLICIES[c.tableRemovalPolicy]),
    ...optional('tableDeletionProtection', c.tableDeletionProtection),
    restApiIds: c.restApiIds ?? [],
    ...optional('gatewayResponses', c.gatewayResponses),
    gatewayResponseOptions,
    config,
    plugins: (c.plugins ?? []).map((entry) => (typeof entry === 'string' ? { entry } : entry)),
    ...optional('resultsCacheTtl', c.resultsCacheTtl === undefined ? undefined : Duration.seconds(c.resultsCacheTtl)),
    ...optional('tracing', c.tracing),
    ...optional('reservedConcurrency', c.reservedConcurrency),
    ...optional('usage', c.usage),
    ...optional('usageRetentionDays', c.usageRetentionDays),
    ...optional('monitoring', c.monitoring),
    ...optional('alarmTopicArn', c.alarmTopicArn),
    ...optional('latencyAlarmThreshold', c.latencyAlarmThresholdMs === undefined ? undefined : Duration.millis(c.latencyAlarmThresholdMs)),
  };
}

/** `{[key]: value}`, or nothing when the value is undefined (so that defaults apply). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
