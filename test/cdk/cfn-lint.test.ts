import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Stack, type App } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUrlIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatepassApp } from '../../lib/gatepass-app.ts';
import { GatepassAuthorizer } from '../../lib/gatepass-authorizer.ts';
import { addGatepassGatewayResponses } from '../../lib/gateway-responses.ts';
import { PluginLayer } from '../../lib/plugin-layer.ts';
import { SessionTable } from '../../lib/session-table.ts';
import { CDK_TEST_TIMEOUT, cdkJsonFeatureFlags, removeTestOutdirs, testApp } from './test-app.ts';

const run = promisify(execFile);

/** cfn-lint, where it is installed (it is a Python tool: not an npm dependency). */
const cfnLint = (() => {
  try {
    return execFileSync('cfn-lint', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();

/**
 * Warnings that are understood and left as they are, each with why. Anything else cfn-lint
 * reports — every error, any other warning — fails the test.
 */
const EXPLAINED_WARNINGS: Readonly<Record<string, string>> = {
  // `lambda.Function` makes its function DependsOn its execution role (and the role's
  // default policy, so that the grants exist before the first invocation), while `Role` is
  // also a GetAtt of the role: the DependsOn on the role is redundant and harmless, and
  // written by CDK, not by gatepass (one per function: authorizer, admin, usage, demo echo).
  W3005: 'redundant DependsOn on a Lambda execution role, written by CDK',
};

/** The apps the CDK tests build, as templates: the app's variants and the constructs in apps of their own. */
function variants(): Record<string, App> {
  const flags = cdkJsonFeatureFlags();
  const demo = testApp(flags);
  buildGatepassApp(demo);

  const attached = testApp({
    ...flags,
    restApiIds: 'a1b2c3d4e5,f6g7h8i9j0',
    gatewayResponseHeaders: { 'Access-Control-Allow-Origin': "'https://app.example.com'" },
    jwt: { jwksUrl: 'https://issuer.example/.well-known/jwks.json', algorithms: ['RS256'], defaultPolicies: ['free'] },
    plugins: ['examples/plugins/renew-on-expiry.ts'],
    resultsCacheTtl: 300,
    tracing: true,
    reservedConcurrency: 50,
    alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
    latencyAlarmThresholdMs: 250,
    policyCacheSeconds: 0,
  });
  buildGatepassApp(attached);

  const bare = testApp({ ...flags, monitoring: false, usage: false, tableRemovalPolicy: 'destroy', tableDeletionProtection: false });
  buildGatepassApp(bare);

  const restored = testApp({
    ...flags,
    existingTableName: 'gatepass-restored-20261206',
    alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
  });
  buildGatepassApp(restored);

  // The constructs in a user's own app: a REST API and an HTTP API guarded by one authorizer.
  const own = testApp(flags);
  const stack = new Stack(own, 'Own');
  const sessions = new SessionTable(stack, 'Sessions');
  const authorizer = new GatepassAuthorizer(stack, 'Authorizer', { table: sessions.table });
  authorizer.addPlugin(new PluginLayer(stack, 'IpDeny', { entry: 'examples/plugins/ip-deny.ts' }));
  const rest = new apigateway.RestApi(stack, 'Rest', { cloudWatchRole: false });
  rest.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: authorizer.forRestApi(rest) });
  addGatepassGatewayResponses(rest);
  const http = new apigwv2.HttpApi(stack, 'Http');
  http.addRoutes({
    path: '/orders',
    integration: new HttpUrlIntegration('Orders', 'https://backend.example/orders'),
    authorizer: authorizer.forHttpApi(http),
  });

  // The authorizer in one stack guarding a REST API in another (cross-stack references).
  const split = testApp(flags);
  const gatepassStack = new Stack(split, 'Gatepass');
  const splitAuthorizer = new GatepassAuthorizer(gatepassStack, 'Authorizer', { table: new SessionTable(gatepassStack, 'Sessions').table });
  const orders = new apigateway.RestApi(new Stack(split, 'Orders'), 'Api', { cloudWatchRole: false });
  orders.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: splitAuthorizer.forRestApi(orders) });

  return { demo, attached, bare, restored, own, split };
}

interface Match {
  readonly Rule: { readonly Id: string };
  readonly Level: string;
  readonly Message: string;
  readonly Filename: string;
  readonly Location: { readonly Path?: readonly (string | number)[] };
}

/**
 * cfn-lint over every template the CDK tests synthesize, in one run (it takes a few
 * seconds to start): no error, and only warnings that are explained above.
 */
describe.skipIf(cfnLint === undefined)(`cfn-lint (${cfnLint ?? 'not installed'})`, { timeout: CDK_TEST_TIMEOUT }, () => {
  let dir: string;
  let files: string[];
  let matches: Match[];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatepass-cfn-lint-'));
    files = [];
    for (const [name, app] of Object.entries(variants())) {
      for (const stack of app.node.children.filter((child): child is Stack => child instanceof Stack)) {
        const file = path.join(dir, `${name}-${stack.node.id}.template.json`);
        writeFileSync(file, JSON.stringify(Template.fromStack(stack).toJSON(), null, 1));
        files.push(file);
      }
    }
    // Exit code 0 (nothing), 2 (errors), 4 (warnings), 8 (informational) or their sum; the JSON says which.
    const { stdout } = await run('cfn-lint', ['--format', 'json', '--', ...files], { maxBuffer: 16 * 1024 * 1024 }).catch(
      (error: { stdout?: string; code?: number; stderr?: string }) => {
        if (typeof error.stdout === 'string' && error.stdout.trim().startsWith('[')) return { stdout: error.stdout };
        throw new Error(`cfn-lint failed (${error.code}): ${error.stderr}`);
      },
    );
    matches = JSON.parse(stdout) as Match[];
  }, CDK_TEST_TIMEOUT);

  afterAll(() => {
    removeTestOutdirs();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lints the templates of the app (demo, attached, bare, on a restored table) and of the constructs in apps of their own', () => {
    expect(files.map((file) => path.basename(file)).sort()).toEqual([
      'attached-Gatepass.template.json',
      'bare-Gatepass.template.json',
      'demo-Gatepass.template.json',
      'own-Own.template.json',
      'restored-Gatepass.template.json',
      'split-Gatepass.template.json',
      'split-Orders.template.json',
    ]);
  });

  it('finds no error', () => {
    const errors = matches.filter((m) => m.Level === 'Error').map(describeMatch);

    expect(errors).toEqual([]);
  });

  it('finds no warning that is not explained', () => {
    const unexplained = matches.filter((m) => m.Level === 'Warning' && !(m.Rule.Id in EXPLAINED_WARNINGS)).map(describeMatch);

    expect(unexplained).toEqual([]);
  });
});

function describeMatch(m: Match): string {
  return `${path.basename(m.Filename)} ${m.Rule.Id} ${(m.Location.Path ?? []).join('/')}: ${m.Message}`;
}
