/**
 * `gatepass/cdk`: the constructs. The repository's own CDK app (`lib/gatepass-app.ts`, with
 * cdk-nag, a dev dependency) is not part of the package.
 */
export { ESM_REQUIRE_BANNER, GATEPASS_ESBUILD_OPTIONS, lambdaBuildOptions, PROJECT_ROOT, RUNTIME_PROVIDED_MODULES } from './bundling.ts';
export { DemoApi } from './demo-api.ts';
export type { DemoApiProps } from './demo-api.ts';
export { functionRole } from './function-role.ts';
export { GatepassAdmin } from './gatepass-admin.ts';
export type { GatepassAdminProps } from './gatepass-admin.ts';
export { GatepassAuthorizer } from './gatepass-authorizer.ts';
export type { AttachToRestApiOptions, GatepassAuthorizerProps, RestApiAttachment } from './gatepass-authorizer-props.ts';
export { gatepassConfig } from './gatepass-config.ts';
export type { GatepassConfigProps, GatepassJwtConfig, JwtAlgorithm } from './gatepass-config.ts';
export { ContributorInsightsWidget } from './contributor-insights-widget.ts';
export type { ContributorInsightsWidgetProps } from './contributor-insights-widget.ts';
export { GatepassMonitoring } from './gatepass-monitoring.ts';
export type { GatepassAlarms, GatepassMonitoringProps } from './gatepass-monitoring.ts';
export { GatepassStack } from './gatepass-stack.ts';
export type { GatepassStackProps } from './gatepass-stack.ts';
export { addGatepassGatewayResponses } from './gateway-responses.ts';
export type { GatepassResponseType } from './gateway-responses.ts';
export { httpIdentitySource } from './identity-sources.ts';
export { PLUGIN_NAME_PATTERN, PluginLayer } from './plugin-layer.ts';
export type { PluginLayerProps } from './plugin-layer.ts';
export { SessionTable } from './session-table.ts';
export type { SessionTableProps } from './session-table.ts';
export { decisionLinePattern, UsageAggregator } from './usage-aggregator.ts';
export type { UsageAggregatorProps } from './usage-aggregator.ts';
