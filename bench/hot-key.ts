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
import { meterCapacity, type CapacityMeter } from './lib/capacity.ts';
import { createBenchTable } from './lib/dynamo.ts';
import type { Figure } from './lib/figures.ts';
import { figures, type Observed } from './hot-key-figures.ts';
import { httpLoad } from './lib/load.ts';

/** A key with nothing but a big quota (never renewed, never reached in a run): every request is counted. */
const BIG_QUOTA = { quotaMax: 100_000_000 } as const;

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
