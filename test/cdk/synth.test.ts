import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { PROJECT_ROOT, RUNTIME_PROVIDED_MODULES } from '../../lib/bundling.ts';
import { buildRequestAuthorizerEvent } from '../../local/authorizer-event.ts';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamo.ts';
import { CDK_TEST_TIMEOUT } from './test-app.ts';

const run = promisify(execFile);

/**
 * The real `cdk synth` (bundling with the local esbuild, no Docker, no network, cdk-nag on),
 * as a user runs it. Slow (6–60 s), so it runs once for the whole file.
 */
describe('cdk synth', { timeout: CDK_TEST_TIMEOUT }, () => {
  let outdir: string;
  let synthOutput: string;
  let template: { Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties?: Record<string, unknown> }> };

  beforeAll(async () => {
    outdir = mkdtempSync(path.join(tmpdir(), 'gatepass-synth-'));
    const synth = await run(path.join(PROJECT_ROOT, 'node_modules/.bin/cdk'), ['synth', '--quiet', '--output', outdir], {
      cwd: PROJECT_ROOT,
      timeout: 170_000,
    });
    synthOutput = synth.stdout + synth.stderr;
    template = JSON.parse(readFileSync(path.join(outdir, 'Gatepass.template.json'), 'utf8'));
  }, 180_000);

  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  /** The asset folder of the function whose description is `description`. */
  function assetOf(description: string): string {
    const fn = Object.values(template.Resources).find(
      (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties?.Description === description,
    );
    const assetPath = fn?.Metadata?.['aws:asset:path'];
    if (!assetPath) throw new Error(`no bundled asset for "${description}"`);
    return path.join(outdir, assetPath);
  }

  it('prints no warning (the monitoring construct once warned of overridden metric periods on every synth)', () => {
    expect(synthOutput).not.toMatch(/WARNING|\[Warning|overridden/);
  });

  it.each(['gatepass authorizer', 'gatepass admin API'])('bundles the %s as ESM: index.mjs with a source map', (description) => {
    const asset = assetOf(description);

    expect(existsSync(path.join(asset, 'index.mjs'))).toBe(true);
    expect(existsSync(path.join(asset, 'index.mjs.map'))).toBe(true);
    expect(readFileSync(path.join(asset, 'index.mjs'), 'utf8')).toMatch(/^import \{ createRequire as __gatepassCreateRequire \}/);
  });

  it('splits the authorizer: zod, jose and re2js are in chunks that only import() loads', () => {
    const asset = assetOf('gatepass authorizer');
    const atStart = staticallyImported(path.join(asset, 'index.mjs')).map((file) => readFileSync(file, 'utf8'));
    const chunks = readdirSync(path.join(asset, 'chunks')).map((file) => readFileSync(path.join(asset, 'chunks', file), 'utf8'));

    for (const [library, marker] of [
      ['zod', 'ZodError'],
      ['jose', 'JWSSignatureVerificationFailed'],
      ['re2js', 'RE2JSSyntaxException'],
    ] as const) {
      expect(
        atStart.some((code) => code.includes(marker)),
        `${library} read at import`,
      ).toBe(false);
      expect(
        chunks.some((code) => code.includes(marker)),
        `${library} in a chunk`,
      ).toBe(true);
    }
  });

  describe('the synthesized authorizer bundle, run by Node', () => {
    let table: TestTable;
    let keys: KeyService;
    let bundle: string;

    beforeAll(async () => {
      table = await createTestTable('synth');
      keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 86_400 }));
      bundle = path.join(assetOf('gatepass authorizer'), 'index.mjs');
      provideRuntimeModules(outdir);
    });

    afterAll(async () => {
      await table?.drop();
    });

    /**
     * Imports the bundle in a fresh `node`, as Lambda does at cold start, and answers one event.
     * The context grants 25 s rather than the function's 3 s: middy stops a handler at the
     * deadline, and a cold start on a loaded CI machine is no measure of one on Lambda.
     */
    async function authorize(key: string, config: Record<string, unknown> = {}): Promise<APIGatewayAuthorizerResult & { logs: string }> {
      const event = buildRequestAuthorizerEvent({
        method: 'GET',
        path: '/orders/42',
        headers: { authorization: key },
        query: new URLSearchParams(),
        sourceIp: '203.0.113.9',
        apiId: 'a1b2c3d4e5',
        stage: 'prod',
        region: 'us-east-1',
      });
      const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(bundle).href)});
        const context = { functionName: 'gatepass-authorizer', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:gatepass-authorizer', memoryLimitInMB: '256', awsRequestId: 'synth-test', logGroupName: 'g', logStreamName: 's', getRemainingTimeInMillis: () => 25000 };
        const result = await handler(JSON.parse(process.env.EVENT), context);
        console.log('RESULT ' + JSON.stringify(result));`.replace(
        'const result = await handler(JSON.parse(process.env.EVENT), context);',
        'const result = await handler(JSON.parse(process.env.EVENT), context).catch((error) => ({ error: error.message }));',
      );
      const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: path.dirname(bundle),
        timeout: 30_000,
        env: {
          PATH: process.env.PATH,
          GATEPASS_CONFIG: JSON.stringify({ tableName: table.tableName, ...config }),
          AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint(),
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          POWERTOOLS_LOG_LEVEL: 'ERROR',
          // The authorizer's environment: no NODE_OPTIONS (no --enable-source-maps).
          EVENT: JSON.stringify(event),
        },
      });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`the bundle answered nothing: ${stdout}`);
      return { ...(JSON.parse(line.slice('RESULT '.length)) as APIGatewayAuthorizerResult), logs: stdout + stderr };
    }

    it('allows a seeded key for the API and stage, and counts the request', async () => {
      const { key, keyId } = await keys.create({ alias: 'synth', quotaMax: 1000 });

      const result = await authorize(key);

      expect(result.principalId).toBe(keyId);
      expect(result.policyDocument.Statement).toEqual([
        { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:us-east-1:000000000000:a1b2c3d4e5/prod/*' },
      ]);
      expect(result.context).toMatchObject({ keyId, alias: 'synth', quotaMax: 1000, quotaRemaining: 999 });
    });

    it('logs a fault with the class name of its error, not a minified one', async () => {
      const result = await authorize('gp_anything-at-all-0123456789', { hookTimeoutMs: 0 });

      expect(result).toMatchObject({ error: 'Authorizer misconfigured' });
      expect(result.logs).toContain('"name":"ConfigError"');
    });

    it('denies an expired key with session_expired', async () => {
      const { key } = await keys.create({ alias: 'expired', expires: Math.floor(Date.now() / 1000) - 60 });

      const result = await authorize(key);

      expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
      expect(result.context).toMatchObject({ reason: 'session_expired', message: 'Key has expired, please renew' });
    });
  });
});

/** `file` and the bundle files it imports statically, directly or not: what importing it reads. */
function staticallyImported(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  // Static imports (`import{a as b}from"./chunks/x.mjs"`), not `import("./chunks/y.mjs")`.
  for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/import\s*(?:[^"'()]*?from\s*)?["'](\.{1,2}\/[^"']+)["']/g)) {
    staticallyImported(path.resolve(path.dirname(file), specifier!), seen);
  }
  return [...seen];
}

/**
 * Makes the modules the bundle leaves to the Lambda runtime (`RUNTIME_PROVIDED_MODULES`,
 * e.g. `@aws-sdk/*`) resolvable from the assembly, as the runtime would; with none, the
 * bundle must run on its own, and nothing is linked.
 */
function provideRuntimeModules(outdir: string): void {
  for (const pattern of RUNTIME_PROVIDED_MODULES) {
    const name = pattern.replace(/\/\*$/, '');
    const link = path.join(outdir, 'node_modules', name);
    if (existsSync(link)) continue;
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.join(PROJECT_ROOT, 'node_modules', name), link);
  }
}
