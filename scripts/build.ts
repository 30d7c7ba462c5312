/**
 * `npm run build` (also run by `npm pack` and `npm publish`): the package's JavaScript in
 * `dist/`, from scratch.
 *
 * - `tsc -p tsconfig.build.json`: `lambdas/`, `lib/`, `local/` and `bin/` as `.js` with `.d.ts`
 *   beside them (`.ts` import specifiers rewritten to `.js`), so the package runs on Node.js
 *   without TypeScript or tsx.
 * - esbuild: each `lambdas/<name>/handler.ts` bundled into `dist/assets/<name>/` (`index.mjs`
 *   and its `chunks/`), with the options the constructs bundle with in a checkout
 *   (`GATEPASS_ESBUILD_OPTIONS`). The constructs deploy
 *   these bundles when the TypeScript sources are absent (`gatepassFunction` in lib/bundling.ts).
 * - esbuild: the web console's browser code into `dist/local/console/web/console.js`, its
 *   stylesheet beside it (the console server serves them; see local/console/assets.ts).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { build, type BuildOptions } from 'esbuild';
import { lambdaBuildOptions, PROJECT_ROOT, prebuiltBundleDir } from '../lib/bundling.ts';
import { SCRIPT_BUILD, STYLESHEET } from '../local/console/assets.ts';

const DIST = path.join(PROJECT_ROOT, 'dist');

/** `lambdas/<name>/handler.ts` for every Lambda. */
function handlerFiles(): string[] {
  return readdirSync(path.join(PROJECT_ROOT, 'lambdas'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `lambdas/${entry.name}/handler.ts`)
    .filter((file) => readdirSync(path.join(PROJECT_ROOT, path.dirname(file))).includes('handler.ts'));
}

/** The Lambda at `handlerFile`, bundled as the constructs bundle it in a checkout. */
function esbuildOptions(handlerFile: string): BuildOptions {
  return lambdaBuildOptions(
    path.join(PROJECT_ROOT, handlerFile),
    path.join(DIST, path.relative(PROJECT_ROOT, prebuiltBundleDir(handlerFile))),
  );
}

async function compile(): Promise<void> {
  try {
    await promisify(execFile)(path.join(PROJECT_ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p tsconfig.build.json failed:\n${stdout}${stderr}`);
  }
}

/** The console's page script and stylesheet, where the compiled `local/console/assets.js` looks for them. */
async function buildConsole(): Promise<void> {
  const web = path.join(DIST, 'local/console/web');
  mkdirSync(web, { recursive: true });
  copyFileSync(STYLESHEET, path.join(web, 'console.css'));
  await build({ ...SCRIPT_BUILD, outfile: path.join(web, 'console.js') });
}

const started = Date.now();
rmSync(DIST, { recursive: true, force: true });
const handlers = handlerFiles();
await Promise.all([compile(), ...handlers.map((file) => build(esbuildOptions(file))), buildConsole()]);
// A log line, not output: stdout stays clean for `npm pack --json`, which runs this as prepack.
process.stderr.write(`build: dist/ (tsc) and ${handlers.length} Lambda bundles in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
