import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Writes docs/RELIABILITY.md from a run of `npm run test:reliability`, as `npm run bench`
 * writes docs/BENCHMARKS.md: one section per test file (its leading doc comment says what
 * it does), one row per test with its outcome, its time and the figures it reported with
 * `annotate()`. A run that did not include every reliability file, or had a test filter,
 * leaves the document alone.
 */
export default class ReliabilityReport implements Reporter {
  readonly #out = path.resolve(import.meta.dirname, '../../docs/RELIABILITY.md');

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const tests = modules.flatMap((m) => [...m.children.allTests()]);
    const run = new Set(modules.map((m) => path.resolve(m.moduleId)));
    const partial = reliabilityFiles().some((file) => !run.has(file));
    if (
      partial ||
      tests.some((t) => t.result().state === 'skipped') ||
      process.argv.some((a) => a === '-t' || a.startsWith('--testNamePattern'))
    ) {
      return;
    }
    const failed = tests.filter((t) => t.result().state === 'failed').length;
    const lines = [
      '# Reliability',
      '',
      '<!-- Written by `npm run test:reliability` (test/reliability/report.ts). Do not edit by hand. -->',
      '',
      'Fault injection, the randomized history checker of the counting model, the model check, the soak and the',
      'security checks, run on DynamoDB Local by `npm run test:reliability` (CI runs it after `npm test`).',
      '',
      `Last run: ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node.js ${process.version}: ` +
        `${tests.length - failed} passed, ${failed} failed, in ${seconds(modules.reduce((sum, m) => sum + (m.diagnostic().duration ?? 0), 0))}.`,
      '',
    ];
    for (const module of [...modules].sort((a, b) => a.relativeModuleId.localeCompare(b.relativeModuleId))) {
      lines.push(
        `## ${module.relativeModuleId}`,
        '',
        description(module.moduleId),
        '',
        '| test | result | time | figures |',
        '|---|---|---|---|',
      );
      for (const test of module.children.allTests()) {
        const figures = test
          .annotations()
          .map((a) => a.message.replaceAll('|', '\\|'))
          .join('<br>');
        lines.push(
          `| ${test.fullName.replaceAll('|', '\\|')} | ${test.result().state === 'passed' ? 'pass' : 'FAIL'} | ${seconds(test.diagnostic()?.duration ?? 0)} | ${figures} |`,
        );
      }
      lines.push('');
    }
    writeFileSync(this.#out, `${lines.join('\n').trimEnd()}\n`);
  }
}

/** Every test file of the reliability suite (vitest.reliability.config.ts includes test/reliability/**\/*.test.ts). */
function reliabilityFiles(): string[] {
  const root = import.meta.dirname;
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts') && !file.startsWith('.dbg'))
    .map((file) => path.join(root, file));
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** The file's leading doc comment, as prose. */
function description(file: string): string {
  const source = readFileSync(file, 'utf8');
  const match = /\/\*\*([\s\S]*?)\*\//.exec(source);
  if (match === null) return '';
  return match[1]!
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();
}
