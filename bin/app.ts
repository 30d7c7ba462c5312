/**
 * The CDK app (cdk.json "app"): one `GatepassStack` configured from the context (cdk.json
 * or `-c key=value`; see `AppContextSchema` in lib/app-context.ts and docs/DEPLOY.md), e.g.
 * `npx cdk deploy -c restApiIds=a1b2c3d4e5 -c tableName=gatepass-staging`. An unknown key
 * or a bad value fails the synth, naming it.
 *
 * The stack is environment-agnostic (no `env`): one synthesized template deploys to any
 * account and Region, and synth never needs credentials. cdk-nag's AwsSolutions checks run
 * on every synth; an unacknowledged error fails it.
 */
import { App } from 'aws-cdk-lib';
import { buildGatepassApp } from '../lib/gatepass-app.ts';

buildGatepassApp(new App());
