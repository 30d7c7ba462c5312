import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/gatepass-authorizer.ts';

/**
 * The real `cdk synth` (bundling with the local esbuild, no Docker, no network), as a user
 * runs it. Slow (6–20 s), so it runs once for the whole file.
 */
describe('cdk synth', () => {
  let outdir: string;
  let template: { Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties?: Record<string, unknown> }> };

  beforeAll(async () => {
    outdir = mkdtempSync(path.join(tmpdir(), 'gatepass-synth-'));
    await promisify(execFile)(path.join(PROJECT_ROOT, 'node_modules/.bin/cdk'), ['synth', '--quiet', '--output', outdir], {
      cwd: PROJECT_ROOT,
      timeout: 110_000,
    });
    template = JSON.parse(readFileSync(path.join(outdir, 'Gatepass.template.json'), 'utf8'));
  }, 120_000);

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

  it.each(['gatepass authorizer', 'gatepass admin API'])('bundles the %s into one ESM index.mjs with a source map', (description) => {
    const asset = assetOf(description);

    expect(existsSync(path.join(asset, 'index.mjs'))).toBe(true);
    expect(existsSync(path.join(asset, 'index.mjs.map'))).toBe(true);
    expect(readFileSync(path.join(asset, 'index.mjs'), 'utf8')).toMatch(/^import \{ createRequire as __gatepassCreateRequire \}/);
  });
});
