import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundling.ts';
import { CDK_TEST_TIMEOUT } from './test-app.ts';

const run = promisify(execFile);
const outdir = mkdtempSync(path.join(tmpdir(), 'gatepass-context-'));

/** `cdk synth` as a user runs it, with `-c` flags; the app fails before bundling anything. */
async function synth(...context: string[]): Promise<{ code: number; output: string }> {
  const args = ['synth', '--quiet', '--output', outdir, ...context.flatMap((c) => ['-c', c])];
  try {
    const { stdout, stderr } = await run(path.join(PROJECT_ROOT, 'node_modules/.bin/cdk'), args, { cwd: PROJECT_ROOT, timeout: 120_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

describe('cdk synth with -c flags', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('fails on a mistyped key instead of building the demo API, naming the key', async () => {
    const { code, output } = await synth('restApiIdd=a1b2c3d4e5');

    expect(code).not.toBe(0);
    expect(output).toContain('unknown context key "restApiIdd" (did you mean "restApiIds"?)');
  });

  it('fails on a JWT config without algorithms, naming the field instead of a TypeError', async () => {
    const { code, output } = await synth('jwt={"jwksUrl":"https://x/jwks"}');

    expect(code).not.toBe(0);
    expect(output).toContain('jwt.algorithms: Invalid input: expected array');
    expect(output).not.toContain('TypeError');
  });
});
