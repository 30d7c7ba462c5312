import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { AssetHashType, DockerImage, Validations, type BundlingOptions, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { BuildOptions } from 'esbuild';

/**
 * The root of gatepass's code: the repository root in a checkout (Lambda entries, the lock
 * file and esbuild are found from here, whatever the cwd), `dist/` in the installed package.
 */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');

/**
 * Gives CommonJS dependencies of an ESM bundle a `require` (ESM has none). The import is
 * aliased so that it cannot clash with a bundled `createRequire`. Used for a plugin layer's
 * one file, whose code may use `require` in any way (`require.resolve` too).
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __gatepassCreateRequire } from 'node:module'; const require = __gatepassCreateRequire(import.meta.url);";

/**
 * The same for gatepass's own Lambda bundles, whose `require` is made on its first call:
 * esbuild writes the banner at the top of every output file, so the authorizer's cold start
 * ran `createRequire` once per file it reads (about 0.2 ms each, measured), yet no code in
 * these bundles calls `require` today (`test/unit/authorizer/bundle-start.test.ts`). A
 * dependency that does still gets one, for calls (`require('x')`).
 */
export const LAZY_ESM_REQUIRE_BANNER =
  "import { createRequire as __gatepassCreateRequire } from 'node:module'; let __gatepassRequire; const require = (id) => (__gatepassRequire ??= __gatepassCreateRequire(import.meta.url))(id);";

/**
 * Modules left out of the Lambda bundles, expected from the runtime. None: the AWS SDK v3
 * is bundled too. Measured (docs/DEPLOY.md, "Bundle: AWS SDK bundled or external"), a
 * minified bundle imports faster than the runtime's SDK spread over hundreds of files, and
 * the SDK version is the one in package-lock.json that the tests ran against.
 */
export const RUNTIME_PROVIDED_MODULES: readonly string[] = [];

/**
 * esbuild options shared by gatepass's Lambdas: minified ESM for Node.js 22, with code
 * splitting. `index.mjs` holds what the handler imports at start; every module reached only
 * through `import()` — re2js, zod, jose, the SDK's credential providers other than the
 * environment's — goes to `chunks/`, read from disk only when a request needs it. One file
 * would make Node parse all of it at every cold start (docs/BENCHMARKS.md, "Cold start").
 * The source map is written beside the code; only the admin API runs with
 * `--enable-source-maps` (Node then loads the map at start-up and maps every stack trace it
 * formats, a cost the authorizer, on every request's path, does not pay: its logs carry
 * error names and messages, and `keepNames` keeps class names such as `ConfigError`).
 *
 * Built with the local esbuild (no Docker) at synth time, by `npm run build` for the
 * package, and by the cold-start benchmark — the same options everywhere.
 */
export const GATEPASS_ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  keepNames: true,
  splitting: true,
  entryNames: 'index',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: { js: LAZY_ESM_REQUIRE_BANNER },
  external: [...RUNTIME_PROVIDED_MODULES],
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** esbuild options that bundle `entry` (an absolute path) into `outdir`: `index.mjs` and its `chunks/`. */
export function lambdaBuildOptions(entry: string, outdir: string): BuildOptions {
  return {
    ...GATEPASS_ESBUILD_OPTIONS,
    mainFields: [...GATEPASS_ESBUILD_OPTIONS.mainFields],
    external: [...RUNTIME_PROVIDED_MODULES],
    entryPoints: [entry],
    outdir,
  };
}

const RUNTIME = lambda.Runtime.NODEJS_22_X;
const ARCHITECTURE = lambda.Architecture.ARM_64;

/**
 * Where the package keeps the prebuilt bundle of `lambdas/<name>/handler.ts`:
 * `dist/assets/<name>/` (`index.mjs` and its chunks), made by `npm run build` with
 * {@link GATEPASS_ESBUILD_OPTIONS}.
 */
export function prebuiltBundleDir(handlerFile: string): string {
  return path.join(PROJECT_ROOT, 'assets', path.basename(path.dirname(handlerFile)));
}

/**
 * A gatepass Lambda: Node.js 22 on ARM64, handler `index.handler`. In a checkout its code is
 * bundled from the TypeScript entry at synth time ({@link LambdaBundler}); the installed
 * package has no TypeScript sources (and its user maybe no esbuild), so there it is the
 * bundle `npm run build` made with the same options.
 */
export function gatepassFunction(scope: Construct, id: string, handlerFile: string, props: lambda.FunctionOptions): lambda.Function {
  return new lambda.Function(scope, id, {
    ...props,
    runtime: RUNTIME,
    architecture: ARCHITECTURE,
    handler: 'index.handler',
    code: functionCode(handlerFile),
  });
}

function functionCode(handlerFile: string): lambda.Code {
  const entry = path.join(PROJECT_ROOT, handlerFile);
  if (existsSync(entry)) {
    return lambda.Code.fromAsset(path.dirname(entry), {
      // The bundle, not the entry's folder, is the asset: a change in an imported module counts.
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        local: new LambdaBundler(entry),
        // Never pulled: local bundling always succeeds or throws.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox'),
      },
    });
  }
  const bundle = prebuiltBundleDir(handlerFile);
  if (!existsSync(path.join(bundle, 'index.mjs'))) {
    throw new Error(`gatepass: neither ${handlerFile} nor its prebuilt bundle ${bundle}/index.mjs exists (run \`npm run build\`)`);
  }
  return lambda.Code.fromAsset(bundle);
}

/**
 * Bundles a Lambda entry with the local esbuild and {@link GATEPASS_ESBUILD_OPTIONS}.
 * (CDK's NodejsFunction cannot: it always passes `--outfile`, and code splitting needs an
 * output folder.) Its fields are part of CDK's asset cache key.
 */
class LambdaBundler implements ILocalBundling {
  constructor(readonly entry: string) {}

  tryBundle(outputDir: string, _options: BundlingOptions): boolean {
    loadEsbuild().buildSync(lambdaBuildOptions(this.entry, outputDir));
    return true;
  }
}

/**
 * esbuild, loaded when something is bundled: the package lists it as an optional peer
 * dependency, so that deploying the prebuilt bundles needs no esbuild.
 */
export function loadEsbuild(): typeof import('esbuild') {
  try {
    return createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error('gatepass: bundling a Lambda or a plugin needs esbuild, which is not installed (npm install --save-dev esbuild)', {
      cause: error,
    });
  }
}

/** cdk-nag's "not the latest runtime" finding, acknowledged where it applies. */
export function acknowledgeNodeRuntime(fn: lambda.IFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Node.js 22 is the runtime gatepass is built (esbuild target node22) and tested for.',
  });
}
