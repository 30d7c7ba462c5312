import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';

/**
 * The root of gatepass's code: the repository root in a checkout (Lambda entries, the lock
 * file and esbuild are found from here, whatever the cwd), `dist/` in the installed package.
 */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

/**
 * Gives CommonJS dependencies of an ESM bundle a `require` (ESM has none). The import is
 * aliased so that it cannot clash with a bundled `createRequire`.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __gatepassCreateRequire } from 'node:module'; const require = __gatepassCreateRequire(import.meta.url);";

/**
 * Modules left out of the Lambda bundles, expected from the runtime. None: the AWS SDK v3
 * is bundled too. Measured (docs/DEPLOY.md, "Bundle: AWS SDK bundled or external"), one
 * minified file imports faster than the runtime's SDK spread over hundreds of files, and
 * the SDK version is the one in package-lock.json that the tests ran against.
 */
export const RUNTIME_PROVIDED_MODULES: readonly string[] = [];

/**
 * esbuild options shared by gatepass's Lambdas: one minified ESM file (`index.mjs`) for
 * Node.js 22 with an external source map, built by the local esbuild (no Docker). Only the
 * admin API runs with `--enable-source-maps`: Node then loads the map (most of it the AWS
 * SDK's, about 0.9 MB) at start-up and maps every stack trace it formats, a cost the
 * authorizer, on every request's path, does not pay (its logs carry error names and messages).
 */
export const GATEPASS_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  minify: true,
  // Class and function names survive minification: logs say `ConfigError`, not `_t`.
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  externalModules: [...RUNTIME_PROVIDED_MODULES],
};

const RUNTIME = lambda.Runtime.NODEJS_22_X;
const ARCHITECTURE = lambda.Architecture.ARM_64;

/**
 * What every gatepass Lambda shares: its handler file under the repository, Node.js 22 on
 * ARM64, the lock file, and {@link GATEPASS_BUNDLING}.
 */
export function gatepassFunctionDefaults(handlerFile: string): nodejs.NodejsFunctionProps {
  return {
    entry: path.join(PROJECT_ROOT, handlerFile),
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
    runtime: RUNTIME,
    architecture: ARCHITECTURE,
    bundling: GATEPASS_BUNDLING,
  };
}

/**
 * Where the package keeps the prebuilt bundle of `lambdas/<name>/handler.ts`:
 * `dist/assets/<name>/index.mjs`, made by `npm run build` with {@link GATEPASS_BUNDLING}.
 */
export function prebuiltBundleDir(handlerFile: string): string {
  return path.join(PROJECT_ROOT, 'assets', path.basename(path.dirname(handlerFile)));
}

/**
 * A gatepass Lambda. In a checkout it is bundled from its TypeScript entry at synth time
 * ({@link gatepassFunctionDefaults}); the installed package has no TypeScript sources (and
 * its user maybe no esbuild), so there it is the bundle `npm run build` made with the same
 * options.
 */
export function gatepassFunction(scope: Construct, id: string, handlerFile: string, props: lambda.FunctionOptions): lambda.Function {
  if (existsSync(path.join(PROJECT_ROOT, handlerFile))) {
    return new nodejs.NodejsFunction(scope, id, { ...gatepassFunctionDefaults(handlerFile), ...props });
  }
  const bundle = prebuiltBundleDir(handlerFile);
  if (!existsSync(path.join(bundle, 'index.mjs'))) {
    throw new Error(`gatepass: neither ${handlerFile} nor its prebuilt bundle ${bundle}/index.mjs exists (run \`npm run build\`)`);
  }
  return new lambda.Function(scope, id, {
    ...props,
    runtime: RUNTIME,
    architecture: ARCHITECTURE,
    handler: 'index.handler',
    code: lambda.Code.fromAsset(bundle),
  });
}

/** cdk-nag's "not the latest runtime" finding, acknowledged where it applies. */
export function acknowledgeNodeRuntime(fn: lambda.IFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Node.js 22 is the runtime gatepass is built (esbuild target node22) and tested for.',
  });
}
