/**
 * Measurement 5: one hot key under DynamoDB's per-item ceiling, simulated on DynamoDB Local
 * (`local/throughput-ceiling.ts`, scaled down to W write units a second per item). The
 * local gateway in front of the real authorizer handler, on the client the Lambda uses
 * (`createDocumentClient`: its retries and timeouts), with the ceiling below the SDK's
 * retries; keys are made through the admin API, behind the same ceiling. Driven by
 * autocannon in a child process. Only public interfaces are used — the gateway, the handler
 * and the admin API — so the measurement holds whatever the way counters are stored.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAdminHandler } from '../lambdas/admin/handler.ts';
import { createAuthorizerHandler } from '../lambdas/authorizer/handler.ts';
import type { DecisionRecord } from '../lambdas/core/observability/decision-record.ts';
import { createDocumentClient } from '../lambdas/core/store/dynamo-client.ts';
import { startAdminServer, type RunningAdmin } from '../local/admin-server.ts';
import { startGateway } from '../local/gateway.ts';
import { lambdaContext } from '../local/lambda-context.ts';
import { createDynamoClient } from '../local/table.ts';
import { ThroughputCeiling } from '../local/throughput-ceiling.ts';
import { silentLogger } from './lib/authorizer.ts';
import { dollarsPerMillion, meterCapacity, ON_DEMAND_PRICE, type CapacityMeter } from './lib/capacity.ts';
import { createBenchTable } from './lib/dynamo.ts';
import type { Figure } from './lib/figures.ts';
import { httpLoad, type HttpLoad } from './lib/load.ts';

/** A key with nothing but a big quota (never renewed, never reached in a run): every request is counted. */
const BIG_QUOTA = { quotaMax: 100_000_000 } as const;

export const HOT_KEY_GROUP = 'Hot key (one key past the per-item ceiling, simulated)';

export interface HotKeyOptions {
  /** W: write units per second per item; reads get 3 W. @default 10 */
  readonly writeUnitsPerSecond?: number;
  /** Connections driving the key. @default 16 */
  readonly connections?: number;
  /** Each measured run. @default 10 */
  readonly seconds?: number;
  /** Warm-up before the first measured run. @default 3 */
  readonly warmupSeconds?: number;
  /** The quota of the exactness run. @default 300 */
  readonly quota?: number;
}

/** One gateway with its authorizer, its DynamoDB client, and what it has decided. */
interface Gateway {
  readonly url: string;
  readonly records: DecisionRecord[];
  readonly meter: CapacityMeter;
  close(): Promise<void>;
}

export async function measureHotKey(endpoint: string, options: HotKeyOptions = {}): Promise<Figure[]> {
  const W = options.writeUnitsPerSecond ?? 10;
  const connections = options.connections ?? 16;
  const seconds = options.seconds ?? 10;
  const quota = options.quota ?? 300;
  const table = await createBenchTable(endpoint, 'hot');
  const config = JSON.stringify({ tableName: table.tableName });
  const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W });
  const clients: DynamoDBDocumentClient[] = [];
  const client = (withCeiling: boolean) => {
    const doc = createDocumentClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    if (withCeiling) ceiling.install(doc);
    clients.push(doc);
    return doc;
  };
  const closers: Array<() => Promise<void>> = [];
  const gateway = async (withCeiling: boolean): Promise<Gateway> => {
    const doc = client(withCeiling);
    const meter = meterCapacity(doc);
    const records: DecisionRecord[] = [];
    const handler = createAuthorizerHandler({
      config,
      client: doc,
      logger: silentLogger(),
      metrics: false,
      onDecision: (record) => void records.push(record),
    });
    const gw = await startGateway({
      authorizer: (event) => handler(event, lambdaContext('gatepass-authorizer')),
      apiId: 'local',
      stage: 'dev',
      port: 0,
      log: () => undefined,
    });
    closers.push(() => gw.close());
    return { url: `${gw.url}/pets`, records, meter, close: () => gw.close() };
  };

  // The admin API on the local client (no 400 ms attempt timeout): making keys is not what is measured.
  const adminClient = DynamoDBDocumentClient.from(createDynamoClient(endpoint), { marshallOptions: { removeUndefinedValues: true } });
  ceiling.install(adminClient);
  clients.push(adminClient);
  try {
    const admin = await startAdminServer({
      handler: createAdminHandler({
        config,
        client: adminClient,
        logger: new Logger({ serviceName: 'gatepass-admin', logLevel: 'ERROR' }),
      }),
      port: 0,
    });
    closers.push(() => admin.close());
    const free = await gateway(false);
    const hot = await gateway(true);
    const drive = async (gw: Gateway, body: Record<string, unknown>, duration = seconds) => {
      const key = await createKey(admin, body);
      return observed(gw, () => httpLoad({ url: gw.url, connections, durationSeconds: duration, headers: { authorization: key } }));
    };

    await drive(free, BIG_QUOTA, options.warmupSeconds ?? 3);
    const unthrottled = await drive(free, BIG_QUOTA);
    const cold = await coldKey(hot, await createKey(admin, BIG_QUOTA), W);
    const hotRun = await drive(hot, BIG_QUOTA);
    const quotaRun = await drive(hot, { quotaMax: quota });
    return figures({ W, connections, seconds, quota, unthrottled, cold, hotRun, quotaRun });
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    for (const doc of clients) doc.destroy();
    table.close();
  }
}

/** What a gateway decided, and what DynamoDB billed, while `run` ran. */
interface Observed<T> {
  readonly result: T;
  readonly records: readonly DecisionRecord[];
  readonly units: { read: number; write: number };
}

async function observed<T>(gw: Gateway, run: () => Promise<T>): Promise<Observed<T>> {
  const from = gw.records.length;
  const before = { ...gw.meter.units };
  const result = await run();
  await sleep(200); // the last answers' records
  const units = { read: gw.meter.units.read - before.read, write: gw.meter.units.write - before.write };
  return { result, records: gw.records.slice(from), units };
}

/** A key below the ceiling (W / 2 requests a second, one at a time), after one request to settle. */
async function coldKey(gw: Gateway, key: string, W: number): Promise<Observed<number>> {
  await call(gw.url, key);
  return observed(gw, async () => {
    let allowed = 0;
    for (let i = 0; i < 20; i++) {
      if ((await call(gw.url, key)) === 200) allowed++;
      await sleep(2000 / W);
    }
    return allowed;
  });
}

/**
 * DynamoDB requests (SDK attempts, throttled ones included) per decision, and billed units
 * and their price per allowed request (what serving the key costs; a 500 or a denial is
 * paid for by the requests that were allowed).
 */
function costs(run: Observed<unknown>) {
  const n = Math.max(1, run.records.length);
  const allowed = Math.max(1, run.records.filter((r) => r.outcome === 'allow').length);
  const sum = (pick: (r: DecisionRecord) => number) => run.records.reduce((total, r) => total + pick(r), 0) / n;
  const units = { read: run.units.read / allowed, write: run.units.write / allowed };
  return {
    decisions: run.records.length,
    allowed,
    requests: sum((r) => r.dynamodbRequests),
    throttles: sum((r) => r.throttles),
    units,
    dollarsPerMillion: dollarsPerMillion(units),
  };
}

interface Runs {
  readonly W: number;
  readonly connections: number;
  readonly seconds: number;
  readonly quota: number;
  readonly unthrottled: Observed<HttpLoad>;
  readonly cold: Observed<number>;
  readonly hotRun: Observed<HttpLoad>;
  readonly quotaRun: Observed<HttpLoad>;
}

function figures(runs: Runs): Figure[] {
  const { W, connections, seconds, quota } = runs;
  const free = runs.unthrottled.result;
  const hot = runs.hotRun.result;
  const quotaLoad = runs.quotaRun.result;
  const allowedPerSecond = (load: HttpLoad) => load.status['2xx'] / load.seconds;
  const share500 = (load: HttpLoad) => (100 * load.status['5xx']) / Math.max(1, load.total);
  const cold = costs(runs.cold);
  const hotCost = costs(runs.hotRun);
  const denied = runs.quotaRun.records.filter((r) => r.outcome === 'deny');
  const floodRequests = denied.reduce((sum, r) => sum + r.dynamodbRequests, 0) / Math.max(1, denied.length);
  const unitsText = (c: ReturnType<typeof costs>) =>
    `${fmt(c.units.write)} write + ${fmt(c.units.read)} read units per allowed request (as DynamoDB Local reports them: by item size)`;
  const setup = `${connections} connections, ${seconds} s, W = ${W} write units/s per item (reads 3 W)`;
  const floorRatio = (0.6 * allowedPerSecond(free)) / W;
  const base = { group: HOT_KEY_GROUP };
  return [
    {
      ...base,
      id: 'hotKey.unthrottled.allowed',
      label: 'Same setup without the ceiling: allowed per second',
      value: allowedPerSecond(free),
      unit: 'req/s',
      note: `p99 ${free.latency.p99} ms; ${free.total} answers, ${free.status['5xx']} answered 500. What this machine's gateway path can do on one key at all.`,
    },
    {
      ...base,
      id: 'hotKey.allowedPerW',
      label: 'Hot key: allowed per second ÷ W',
      short: 'Hot key: allowed/s ÷ W',
      value: allowedPerSecond(hot) / W,
      unit: '×',
      target: { kind: 'min', value: Math.min(8, floorRatio) },
      note: `${fmt(allowedPerSecond(hot))} allowed/s; ${setup}. Target: 8 × W, or 0.6 of the run without the ceiling (${fmt(floorRatio)} × W) where the machine caps lower.`,
    },
    {
      ...base,
      id: 'hotKey.share500',
      label: 'Hot key: answered 500',
      short: 'Hot key: share of 500s',
      value: share500(hot),
      unit: '%',
      target: { kind: 'max', value: 0.5 },
      note: `${hot.status['5xx']} of ${hot.total} answers; ${fmt(hotCost.throttles)} throttled DynamoDB requests per decision.`,
    },
    {
      ...base,
      id: 'hotKey.p99',
      label: 'Hot key: p99 latency',
      value: hot.latency.p99,
      unit: 'ms',
      target: { kind: 'max', value: 2 * free.latency.p99 + 100 },
      note: `p50 ${hot.latency.p50} ms, max ${hot.latency.max} ms. Target: 2 × the p99 without the ceiling (${free.latency.p99} ms) + 100 ms.`,
    },
    {
      ...base,
      id: 'hotKey.quota.allowed',
      label: `Hot key with quota ${quota}, driven past it: allowed in all`,
      short: `Hot key, quota ${quota}: allowed`,
      value: quotaLoad.status['2xx'],
      unit: 'req',
      target: { kind: 'max', value: quota },
      note: `Never above the quota; ${quota - quotaLoad.status['2xx']} short of it. ${quotaLoad.total} answers: ${quotaLoad.status['4xx']} denied, ${quotaLoad.status['5xx']} answered 500 (${fmt(share500(quotaLoad))} %).`,
    },
    {
      ...base,
      id: 'hotKey.quota.floodRequests',
      label: 'Exhausted hot key: DynamoDB requests per denied request',
      short: 'Exhausted key: requests per denial',
      value: floodRequests,
      unit: '',
      note:
        denied.length === 0
          ? 'No request of the quota run was denied: the quota was never reached (see the row above), so there is no flood to measure.'
          : `Over ${denied.length} denials of the quota run (throttled attempts included): what a flood on a used-up key costs.`,
    },
    {
      ...base,
      id: 'hotKey.requests.cold',
      label: 'Cold key: DynamoDB requests per decision',
      short: 'Cold key: requests per decision',
      value: cold.requests,
      unit: '',
      target: { kind: 'max', value: 1 },
      note: `${cold.decisions} decisions at W / 2 a second, one at a time, after one to settle.`,
    },
    {
      ...base,
      id: 'hotKey.requests.hot',
      label: 'Hot key: DynamoDB requests per decision',
      short: 'Hot key: requests per decision',
      value: hotCost.requests,
      unit: '',
      note: `${hotCost.decisions} decisions, throttled attempts included (${fmt(hotCost.throttles)} per decision).`,
    },
    {
      ...base,
      id: 'hotKey.cost.cold',
      label: 'Cold key: DynamoDB cost per million allowed requests',
      short: 'Cold key: $ per million',
      value: cold.dollarsPerMillion,
      unit: '$',
      note: `${unitsText(cold)}. ${priceNote}`,
    },
    {
      ...base,
      id: 'hotKey.cost.hot',
      label: 'Hot key: DynamoDB cost per million allowed requests',
      short: 'Hot key: $ per million',
      value: hotCost.dollarsPerMillion,
      unit: '$',
      note: `${unitsText(hotCost)}; throttled attempts are not billed, failed conditions are. ${priceNote}`,
    },
  ];
}

const priceNote = `At $${ON_DEMAND_PRICE.writePerMillionUnits} per million write units and $${ON_DEMAND_PRICE.readPerMillionUnits} per million read units: ${ON_DEMAND_PRICE.source}.`;

/** Creates a key through the admin API; its secret. */
async function createKey(admin: RunningAdmin, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${admin.url}/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST /keys answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}

/** One request through the gateway; its status. */
async function call(url: string, key: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: key }, signal: AbortSignal.timeout(15_000) });
  await res.arrayBuffer();
  return res.status;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function fmt(n: number): string {
  return n >= 10 ? n.toFixed(0) : n.toFixed(2);
}
