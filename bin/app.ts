/**
 * The CDK app (cdk.json "app"). Context: `stackName` (default `Gatepass`) and `tableName`
 * (default: a name CloudFormation generates, so that a retained table from an earlier
 * stack never blocks a new deployment), e.g.
 * `npx cdk deploy -c stackName=GatepassStaging -c tableName=gatepass-staging`.
 * The stack is environment-agnostic (no `env`): one synthesized template deploys to any
 * account and Region, and synth never needs credentials.
 */
import { App } from 'aws-cdk-lib';
import { GatepassStack } from '../lib/gatepass-stack.ts';

const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'Gatepass';
const tableName = app.node.tryGetContext('tableName') as string | undefined;

new GatepassStack(app, 'Gatepass', {
  stackName,
  ...(tableName ? { tableName } : {}),
  description: 'gatepass: a strongly consistent Lambda authorizer for API Gateway',
});
