/**
 * HTTP load from autocannon, run in a child process (`bench/autocannon-child.mjs`) so that
 * the load generator does not share an event loop with the gateway it measures.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const CHILD = path.join(import.meta.dirname, '..', 'autocannon-child.mjs');

export interface HttpLoadOptions {
  readonly url: string;
  /** Connections kept busy, each sending its next request when the last one is answered. */
  readonly connections: number;
  readonly durationSeconds: number;
  readonly headers: Record<string, string>;
}

export interface HttpLoad {
  /** Answers per second, whatever their status. */
  readonly perSecond: number;
  /** Wall time of the run, s. */
  readonly seconds: number;
  /** Answers received. */
  readonly total: number;
  /** Answer latency (all statuses), ms. */
  readonly latency: { p50: number; p90: number; p99: number; max: number };
  /** Answers by status class. */
  readonly status: { readonly '2xx': number; readonly '4xx': number; readonly '5xx': number };
  /** Answers that were not 2xx, plus connection errors and timeouts. */
  readonly failures: number;
}

/** Runs autocannon against `options.url`; bounded by its duration plus a margin. */
export function httpLoad(options: HttpLoadOptions): Promise<HttpLoad> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.durationSeconds + 30) * 1000);
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`autocannon failed (exit ${code}): ${stderr.slice(-2000)}`));
        return;
      }
      const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
        total: number;
        perSecond: number;
        durationSeconds: number;
        latency: HttpLoad['latency'];
        status2xx: number;
        status4xx: number;
        status5xx: number;
        non2xx: number;
        errors: number;
        timeouts: number;
      };
      resolve({
        perSecond: r.perSecond,
        seconds: r.durationSeconds,
        total: r.total,
        latency: r.latency,
        status: { '2xx': r.status2xx, '4xx': r.status4xx, '5xx': r.status5xx },
        failures: r.non2xx + r.errors + r.timeouts,
      });
    });
  });
}
