/**
 * Measurement 4: throughput through the local gateway (`startDev` on DynamoDB Local,
 * the real authorizer handler in front of the echo backend) against raw DynamoDB Local
 * throughput measured in the same run at the same concurrency. autocannon runs in a child
 * process; the raw load runs in this process with the same client settings the gateway's
 * authorizer uses. Every run is bounded in time (and the raw one in count too).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { KeyService } from '../lambdas/admin/key-service.ts';
import { SessionStore } from '../lambdas/core/store/store.ts';
import { startDev } from '../local/dev.ts';
import { createDynamoClient } from '../local/table.ts';
import { LIMITED_KEY } from './lib/authorizer.ts';
import { createBenchTable } from './lib/dynamo.ts';
import { percentile, type Figure } from './lib/figures.ts';
import { httpLoad } from './lib/load.ts';

const GROUP = 'Throughput (local gateway vs raw DynamoDB Local, same run, same concurrency)';

export interface ThroughputOptions {
  /** Connections (gateway) and workers (raw) in flight. @default 32 */
  readonly concurrency?: number;
  /** Each figure of the ratio (measured in two alternating halves); the others get half. @default 10 */
  readonly seconds?: number;
  /** Warm-up of each path before the measured runs (JIT on both sides). @default 3 */
  readonly warmupSeconds?: number;
  /** DynamoDB Local's process id, to report its CPU share. */
  readonly dynamoPid?: number;
}

interface Load {
  readonly perSecond: number;
  /** Wall time of the run, s. */
  readonly seconds: number;
  /** CPU used during the run, in % of one core: this process (gateway or raw load) and DynamoDB Local. */
  cpu?: { self: number; dynamo: number | undefined };
  readonly total: number;
  readonly latency: { p50: number; p90: number; p99: number; max: number };
  readonly failures: number;
}

export async function measureThroughput(endpoint: string, options: ThroughputOptions = {}): Promise<Figure[]> {
  const concurrency = options.concurrency ?? 32;
  const seconds = options.seconds ?? 10;
  const warmup = options.warmupSeconds ?? 3;

  const table = await createBenchTable(endpoint, 'throughput');
  const folder = mkdtempSync(path.join(tmpdir(), 'gatepass-bench-'));
  const configFile = path.join(folder, 'gatepass.config.json');
  writeFileSync(configFile, JSON.stringify({ tableName: table.tableName }));
  const dev = await startDev({ config: configFile, port: 0, adminPort: 0, dynamodbEndpoint: endpoint, seed: false });
  try {
    const keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 0 }));
    const unlimited = (await keys.create({ alias: 'bench-unlimited' })).key;
    const limited = (await keys.create({ alias: 'bench-limited', ...LIMITED_KEY })).key;
    const url = `${dev.gatewayUrl}/pets`;
    const raw = createDynamoClient(endpoint);
    const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    try {
      const pk = 'bench#raw-counter';
      await doc.send(new PutCommand({ TableName: table.tableName, Item: { pk, n: 0 } }));
      const update = () =>
        doc.send(
          new UpdateCommand({
            TableName: table.tableName,
            Key: { pk },
            UpdateExpression: 'SET #n = #n + :one',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#n': 'n' },
            ExpressionAttributeValues: { ':one': 1 },
            ReturnValues: 'ALL_NEW',
          }),
        );
      const get = () => doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }));
      const load = async (authorization: string, duration: number): Promise<Load> => {
        const { perSecond, seconds, total, latency, failures } = await httpLoad({
          url,
          connections: concurrency,
          durationSeconds: duration,
          headers: { authorization },
        });
        return { perSecond, seconds, total, latency, failures };
      };

      // Every path warmed before any is measured (DynamoDB Local's JVM keeps getting
      // faster for several seconds), then the two figures of the ratio measured in
      // alternating halves, so that neither gets a warmer JVM or a quieter machine.
      await rawLoad(update, concurrency, warmup);
      await load(unlimited, warmup);
      await load(limited, warmup);
      await rawLoad(update, concurrency, warmup);
      const cpu = (run: () => Promise<Load>) => withCpu(run, options.dynamoPid);
      const half = seconds / 2;
      const rawUpdateA = await cpu(() => rawLoad(update, concurrency, half));
      const gatewayA = await cpu(() => load(unlimited, half));
      const rawUpdateB = await cpu(() => rawLoad(update, concurrency, half));
      const gatewayB = await cpu(() => load(unlimited, half));
      const rawUpdate = merge(rawUpdateA, rawUpdateB);
      const gateway = merge(gatewayA, gatewayB);
      const gatewayLimited = await cpu(() => load(limited, half));
      const rawGet = await cpu(() => rawLoad(get, concurrency, half));

      const failures = gateway.failures + gatewayLimited.failures + rawUpdate.failures + rawGet.failures;
      const latencyText = (load: Load) =>
        `p50 ${load.latency.p50} ms, p90 ${load.latency.p90} ms, p99 ${load.latency.p99} ms, max ${load.latency.max} ms`;
      const cpuText = (load: Load, self: string) =>
        load.cpu === undefined
          ? ''
          : ` CPU: ${self} ${Math.round(load.cpu.self)} % of a core${load.cpu.dynamo === undefined ? '' : `, DynamoDB Local ${Math.round(load.cpu.dynamo)} %`}.`;
      const base = { group: GROUP };
      return [
        {
          ...base,
          id: 'throughput.ratio',
          label: 'Gateway (API key, no limits) ÷ raw UpdateItem',
          short: 'Throughput ratio gateway ÷ raw UpdateItem',
          value: gateway.perSecond / rawUpdate.perSecond,
          unit: '',
          target: { kind: 'min', value: 0.7 },
          note: `${concurrency} in flight; each side ${seconds} s in two alternating halves. How much of what DynamoDB Local can take the whole gateway path keeps.`,
        },
        {
          ...base,
          id: 'throughput.gateway.unlimited',
          label: 'Gateway, API key without limits',
          short: 'Gateway, key without limits',
          value: gateway.perSecond,
          unit: 'req/s',
          note: `${latencyText(gateway)}; ${gateway.total} requests, ${gateway.failures} not 200.${cpuText(gateway, 'gateway and authorizer')}`,
        },
        {
          ...base,
          id: 'throughput.gateway.limited',
          label: 'Gateway, API key with rate limit + quota',
          short: 'Gateway, key with rate limit + quota',
          value: gatewayLimited.perSecond,
          unit: 'req/s',
          note: `${latencyText(gatewayLimited)}; ${gatewayLimited.total} requests, ${gatewayLimited.failures} not 200.${cpuText(gatewayLimited, 'gateway and authorizer')}`,
        },
        {
          ...base,
          id: 'throughput.raw.update',
          label: 'Raw DynamoDB Local conditional UpdateItem (one item)',
          short: 'Raw DynamoDB Local UpdateItem',
          value: rawUpdate.perSecond,
          unit: 'ops/s',
          note: `${latencyText(rawUpdate)}; ${rawUpdate.total} operations, ${rawUpdate.failures} failed.${cpuText(rawUpdate, 'load generator')}`,
        },
        {
          ...base,
          id: 'throughput.raw.get',
          label: 'Raw DynamoDB Local consistent GetItem',
          short: 'Raw DynamoDB Local GetItem',
          value: rawGet.perSecond,
          unit: 'ops/s',
          note: `${latencyText(rawGet)}; ${rawGet.total} operations. Ratio gateway/raw GetItem: ${(gateway.perSecond / rawGet.perSecond).toFixed(2)}.${failures > 0 ? ` ${failures} failures in all: see above.` : ''}`,
        },
      ];
    } finally {
      doc.destroy();
      raw.destroy();
    }
  } finally {
    await dev.stop();
    table.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Two runs of the same load as one: rates over the summed time; latency of the second (warmer) run. */
function merge(a: Load, b: Load): Load {
  const seconds = a.seconds + b.seconds;
  const weigh = (x: number | undefined, y: number | undefined) =>
    x === undefined || y === undefined ? undefined : (x * a.seconds + y * b.seconds) / seconds;
  return {
    perSecond: (a.total + b.total) / seconds,
    seconds,
    total: a.total + b.total,
    latency: b.latency,
    failures: a.failures + b.failures,
    ...(a.cpu && b.cpu ? { cpu: { self: weigh(a.cpu.self, b.cpu.self)!, dynamo: weigh(a.cpu.dynamo, b.cpu.dynamo) } } : {}),
  };
}

/**
 * Runs a load and adds the CPU it cost, in % of one core over the run's wall time: this
 * process (the gateway with the authorizer, or the raw load generator) from
 * `process.cpuUsage`, DynamoDB Local from /proc (Linux; left out elsewhere). autocannon's
 * own process is not counted.
 */
async function withCpu(run: () => Promise<Load>, dynamoPid: number | undefined): Promise<Load> {
  const started = performance.now();
  const self = process.cpuUsage();
  const dynamo = dynamoPid === undefined ? undefined : processTicks(dynamoPid);
  const load = await run();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(self);
  const dynamoAfter = dynamoPid === undefined ? undefined : processTicks(dynamoPid);
  const ticksPerSecond = 100; // USER_HZ, 100 on Linux
  return {
    ...load,
    cpu: {
      self: ((used.user + used.system) / 1000 / wallMs) * 100,
      dynamo:
        dynamo === undefined || dynamoAfter === undefined ? undefined : ((((dynamoAfter - dynamo) / ticksPerSecond) * 1000) / wallMs) * 100,
    },
  };
}

/** utime + stime of a process, in clock ticks; undefined where /proc is not there. */
function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5), counted after the name
  } catch {
    return undefined;
  }
}

/** `concurrency` workers calling `op` back to back until `seconds` have passed (or a count cap). */
async function rawLoad(op: () => Promise<unknown>, concurrency: number, seconds: number): Promise<Load> {
  const maxOpsPerWorker = 1_000_000;
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    for (let i = 0; i < maxOpsPerWorker && performance.now() < deadline; i++) {
      const t = performance.now();
      try {
        await op();
      } catch {
        failures += 1;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const ms = (p: number) => Math.round(percentile(latencies, p));
  return {
    perSecond: latencies.length / elapsed,
    seconds: elapsed,
    total: latencies.length,
    latency: { p50: ms(50), p90: ms(90), p99: ms(99), max: ms(100) },
    failures,
  };
}
