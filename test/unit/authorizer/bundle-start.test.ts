import { execFileSync } from 'node:child_process';
import { build, type Metafile } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaBuildOptions } from '../../../lib/index.ts';

const HANDLER = path.resolve(import.meta.dirname, '../../../lambdas/authorizer/handler.ts');

/**
 * Code an ordinary API key's first request never runs (a config without plugins): the plugin
 * hooks and their loader, imported when the config names plugins and a request has a hook.
 */
const PLUGIN_CODE = [
  'lambdas/core/plugins/hook-calls.ts',
  'lambdas/core/plugins/hook-answers.ts',
  'lambdas/core/plugins/session-writes.ts',
  'lambdas/core/plugins/plugin-loader.ts',
];

/** `entry` and every output file it imports statically, directly or not: what a cold start reads. */
function readAtStart(metafile: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imported of metafile.outputs[file]?.imports ?? []) if (imported.kind === 'import-statement') visit(imported.path);
  };
  visit(entry);
  return seen;
}

/** The output file (relative to the cwd, as the metafile names it) holding `input`'s code. */
function outputOf(metafile: Metafile, input: string): string | undefined {
  return Object.entries(metafile.outputs).find(([, output]) => (output.inputs[input]?.bytesInOutput ?? 0) > 0)?.[0];
}

describe("the authorizer's bundle as the construct builds it", () => {
  let outdir: string;
  let metafile: Metafile;

  beforeAll(async () => {
    outdir = mkdtempSync(path.join(tmpdir(), 'gatepass-bundle-'));
    const result = await build({
      ...lambdaBuildOptions(HANDLER, outdir),
      sourcemap: false,
      metafile: true,
      logLevel: 'silent',
    });
    metafile = result.metafile;
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('keeps the policy merge, which every request uses, in index.mjs rather than a chunk of its own', () => {
    for (const input of ['lambdas/core/policies/effective.ts', 'lambdas/core/policies/merge.ts']) {
      expect(path.basename(outputOf(metafile, input) ?? 'missing')).toBe('index.mjs');
    }
  });

  it('reads no plugin hook code at start: it is in chunks loaded on demand', () => {
    const index = Object.keys(metafile.outputs).find((file) => path.basename(file) === 'index.mjs')!;
    const atStart = readAtStart(metafile, index);
    for (const input of PLUGIN_CODE) {
      const output = outputOf(metafile, input);
      expect(output, `${input} is bundled`).toBeDefined();
      expect(atStart.has(output!), `${input} is in ${output}, which a cold start reads`).toBe(false);
    }
  });

  it('has no require left for the banner: a dependency that adds one is seen here', () => {
    // A `require` esbuild leaves in the bundle (a Node built-in required by CommonJS code) is
    // served by the banner's `require`, made on its first call (LAZY_ESM_REQUIRE_BANNER),
    // which supports calls only: check that the new one is a plain call, then allow it here.
    for (const [file, output] of Object.entries(metafile.outputs)) {
      if (!file.endsWith('.mjs')) continue;
      expect(
        output.imports.filter((i) => i.kind === 'require-call'),
        file,
      ).toEqual([]);
    }
  });

  it('imports in a fresh Node.js process, banner included, and exports the handler', () => {
    const script = `const { handler } = await import(${JSON.stringify(path.join(outdir, 'index.mjs'))}); console.log(typeof handler);`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH,
        GATEPASS_CONFIG: '{"tableName":"gatepass-bundle-test"}',
        AWS_REGION: 'us-east-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });

    expect(output.toString().trim()).toBe('function');
  });

  it('loads the policy schema (zod) only through a dynamic import', () => {
    const schemaOutput = outputOf(metafile, 'lambdas/core/policies/policy-schema.ts');
    const index = Object.keys(metafile.outputs).find((file) => path.basename(file) === 'index.mjs');

    expect(schemaOutput).toBeDefined();
    expect(schemaOutput).not.toBe(index);
    const dynamicOnly = Object.values(metafile.outputs).every((output) =>
      output.imports.every((i) => i.path !== schemaOutput || i.kind === 'dynamic-import'),
    );
    expect(dynamicOnly).toBe(true);
  });
});
