export { GatepassAdmin } from './gatepass-admin.ts';
export type { GatepassAdminProps } from './gatepass-admin.ts';
export { GATEPASS_BUNDLING, GatepassAuthorizer, PROJECT_ROOT, gatepassConfig } from './gatepass-authorizer.ts';
export type { GatepassAuthorizerProps, GatepassConfigProps, GatepassJwtConfig, JwtAlgorithm } from './gatepass-authorizer.ts';
export { GatepassStack } from './gatepass-stack.ts';
export type { GatepassStackProps } from './gatepass-stack.ts';
export { SessionTable } from './session-table.ts';
export type { SessionTableProps } from './session-table.ts';
