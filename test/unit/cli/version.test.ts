import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../bin/commands/program.ts';

const VERSION = (JSON.parse(readFileSync(path.join(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string }).version;

describe('gatepass --version', () => {
  it.each(['--version', '-V'])('%s prints the version of package.json and exits 0', async (flag) => {
    let stdout = '';
    let stderr = '';

    const code = await runCli(['node', 'gatepass', flag], { out: (t) => (stdout += t), err: (t) => (stderr += t), env: {} });

    expect(code).toBe(0);
    expect(stdout).toBe(`${VERSION}\n`);
    expect(stderr).toBe('');
  });
});
