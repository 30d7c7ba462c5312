import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root: Lambda entries, the lock file and esbuild are found from here, whatever the cwd. */
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
 * Node.js 22 with an external source map, built by the local esbuild (no Docker).
 */
export const GATEPASS_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  externalModules: [...RUNTIME_PROVIDED_MODULES],
};

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
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    bundling: GATEPASS_BUNDLING,
  };
}

/** cdk-nag's "not the latest runtime" finding, acknowledged where it applies. */
export function acknowledgeNodeRuntime(fn: lambda.IFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Node.js 22 is the runtime gatepass is built (esbuild target node22) and tested for (SPEC §10).',
  });
}
