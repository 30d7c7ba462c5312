/**
 * `npm run bench`: starts its own DynamoDB Local, runs each measurement in turn, then
 * writes `bench/results.json`, prints a table, draws `docs/benchmarks.svg` and rewrites
 * `docs/BENCHMARKS.md`. Flags: `--quick` (shorter runs, for checking the harness; the
 * docs are not rewritten), `--only=requests,cpu,cold,throughput,hotkey`, `--render` (rewrite the
 * chart and docs/BENCHMARKS.md from bench/results.json without measuring again).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDynamoDbLocal } from '../local/dynamodb-local.ts';
import { measureColdStart } from './cold-start.ts';
import { measureCpu } from './cpu.ts';
import { measureHotKey } from './hot-key.ts';
import { meets, type Figure } from './lib/figures.ts';
import { machineInfo, withEndLoad } from './lib/machine.ts';
import { renderChart } from './report/chart.ts';
import { renderMarkdown } from './report/markdown.ts';
import { renderTable } from './report/table.ts';
import { measureRequestsPerAuthorization } from './requests-per-auth.ts';
import { measureThroughput } from './throughput.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const MEASUREMENTS = ['requests', 'cpu', 'cold', 'throughput', 'hotkey'] as const;
type Measurement = (typeof MEASUREMENTS)[number];

// The SDK reads these; DynamoDB Local accepts any credentials.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
// The authorizer's metric line (one per decision on stdout) would flood the report; its cost
// (about 0.02 ms of CPU per decision, measured apart) is stated with the CPU figures.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

async function main(): Promise<void> {
  if (process.argv.includes('--render')) return render();
  const quick = process.argv.includes('--quick');
  const onlyArg = process.argv.find((a) => a.startsWith('--only='));
  const only = new Set<Measurement>(onlyArg ? (onlyArg.slice('--only='.length).split(',') as Measurement[]) : MEASUREMENTS);
  const started = performance.now();
  const machine = machineInfo();

  const db = await startDynamoDbLocal();
  const figures: Figure[] = [];
  const step = async (name: Measurement, run: () => Promise<Figure[]>) => {
    if (!only.has(name)) return;
    const t = performance.now();
    process.stderr.write(`bench: ${name}…\n`);
    figures.push(...(await run()));
    process.stderr.write(`bench: ${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  };
  try {
    await step('requests', () => measureRequestsPerAuthorization(db.endpoint));
    await step('cpu', () => measureCpu());
    await step('cold', () => measureColdStart(db.endpoint));
    await step('throughput', () =>
      measureThroughput(db.endpoint, { dynamoPid: db.pid, ...(quick ? { seconds: 4, warmupSeconds: 1 } : {}) }),
    );
    await step('hotkey', () => measureHotKey(db.endpoint, quick ? { seconds: 4, warmupSeconds: 1 } : {}));
  } finally {
    await db.stop();
  }

  const durationSeconds = (performance.now() - started) / 1000;
  const report = { figures, machine: withEndLoad(machine), durationSeconds, chart: 'benchmarks.svg' };
  writeFileSync(path.join(ROOT, 'bench', 'results.json'), JSON.stringify({ ...report, quick }, null, 2) + '\n');
  console.log(renderTable(figures));
  console.log(
    `\n${figures.filter((f) => meets(f) === true).length} of ${figures.filter((f) => f.target).length} targets met; ${durationSeconds.toFixed(0)} s.`,
  );
  if (quick || only.size < MEASUREMENTS.length) {
    console.log('docs/BENCHMARKS.md not rewritten (partial or --quick run).');
    return;
  }
  writeDocs(report);
  console.log('Wrote bench/results.json, docs/benchmarks.svg and docs/BENCHMARKS.md.');
}

type Report = Parameters<typeof renderMarkdown>[0];

function writeDocs(report: Report): void {
  mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  writeFileSync(path.join(ROOT, 'docs', 'benchmarks.svg'), renderChart(report.figures));
  writeFileSync(path.join(ROOT, 'docs', 'BENCHMARKS.md'), renderMarkdown(report));
}

/** `--render`: the docs from the last complete run's results. */
function render(): void {
  const saved = JSON.parse(readFileSync(path.join(ROOT, 'bench', 'results.json'), 'utf8')) as Report & { quick?: boolean };
  if (saved.quick) throw new Error('bench/results.json is from a --quick run: run `npm run bench` first');
  writeDocs(saved);
  console.log('Rewrote docs/benchmarks.svg and docs/BENCHMARKS.md from bench/results.json.');
}

main().then(
  // DynamoDB Local is stopped; only keep-alive sockets of spent SDK clients may remain.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
