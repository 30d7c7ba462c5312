/**
 * Measurement 3: cold start. Bundles the authorizer with esbuild (ESM, node22, minified,
 * `@aws-sdk/*` external — the Lambda runtime provides an SDK), weighs it, then starts fresh
 * `node` processes that import the bundle and answer one event against DynamoDB Local. Each
 * process first does what Lambda's Node.js runtime does before it imports a handler
 * (`bench/lambda-runtime.mjs`, after the runtime interface client's source).
 * The same is done with the construct's own build (`GATEPASS_ESBUILD_OPTIONS`: the SDK
 * bundled too, code splitting), alternating with a minimal authorizer built the same way
 * (`bench/minimal-authorizer.ts`: one UpdateItem through the document client): the ratio of
 * the two is what gatepass adds to the floor. The minimal authorizer is also measured as one
 * file (no code splitting), for comparison.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, RUNTIME_PROVIDED_MODULES } from '../lib/index.ts';
import { KeyService } from '../lambdas/admin/key-service.ts';
import { SessionStore } from '../lambdas/core/store/store.ts';
import { LIMITED_KEY, requestEvent } from './lib/authorizer.ts';
import { beyond, bundleAuthorizer, largestOf } from './lib/bundle.ts';
import { createBenchTable } from './lib/dynamo.ts';
import { median, type Figure } from './lib/figures.ts';

const GROUP = 'Cold start';
const SDK_EXTERNAL = ['@aws-sdk/*'];
const CHILD = path.join(PROJECT_ROOT, 'bench', 'cold-start-child.mjs');
/** Fresh processes measured per bundle (after one discarded run that warms the disk cache). */
const RUNS = 5;
/** Fresh processes per bundle for the ratio to the minimal authorizer, alternating one and the other. */
const RATIO_RUNS = 11;
const MINIMAL_ENTRY = path.join(PROJECT_ROOT, 'bench', 'minimal-authorizer.ts');
const CHILD_TIMEOUT_MS = 20_000;

interface ChildTimes {
  readonly bootMs: number;
  readonly importMs: number;
  /** CPU time (user + system, all threads) spent importing. */
  readonly importCpuMs: number;
  readonly firstEventMs: number;
  readonly effect: string;
}

export async function measureColdStart(endpoint: string): Promise<Figure[]> {
  const external = await bundleAuthorizer('sdk-external', { external: SDK_EXTERNAL });
  const deployed = await bundleAuthorizer('as-deployed');
  const minimal = await bundleAuthorizer('minimal-as-deployed', { entry: MINIMAL_ENTRY });
  const minimalOneFile = await bundleAuthorizer('minimal-one-file', { entry: MINIMAL_ENTRY, splitting: false });
  const table = await createBenchTable(endpoint, 'cold');
  try {
    const keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 0 }));
    const { key } = await keys.create({ ...LIMITED_KEY });
    const env = {
      ...process.env,
      GATEPASS_CONFIG: JSON.stringify({ tableName: table.tableName }),
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      BENCH_EVENT: JSON.stringify(requestEvent(key)),
      NODE_OPTIONS: '', // no tsx loader inherited from the bench process
    };
    const cold = await coldRuns(external.file, env);
    const [coldDeployed, coldMinimal, coldMinimalOneFile] = await alternatingRuns([deployed.file, minimal.file, minimalOneFile.file], env);
    const ratio = coldDeployed.importMs / coldMinimal.importMs;
    const deployedText =
      RUNTIME_PROVIDED_MODULES.length === 0
        ? 'nothing external: the AWS SDK bundled too'
        : `external: ${RUNTIME_PROVIDED_MODULES.join(', ')}`;

    return [
      {
        id: 'cold.bundleSize',
        group: GROUP,
        label: 'Authorizer code read at cold start (minified ESM, AWS SDK external)',
        short: 'Start-up code (SDK external)',
        value: external.bytes / 1024,
        unit: 'KB',
        target: { kind: 'max', value: 150 },
        note: `What an import reads (\`index.mjs\` and the chunks it imports); ${(external.totalBytes / 1024).toFixed(0)} KB with the chunks loaded on demand. ${(external.gzipBytes / 1024).toFixed(1)} KB gzipped. Largest inputs: ${external.largest}.`,
      },
      {
        id: 'cold.importAndFirstEvent',
        group: GROUP,
        label: 'Import the bundle + answer the first event (fresh process, SDK external)',
        short: 'Cold start: import + first answer',
        value: cold.total,
        unit: 'ms',
        target: { kind: 'max', value: 100 },
        note: `Median of ${RUNS} fresh processes: import ${cold.importMs.toFixed(1)} ms (the bundle and the AWS SDK it loads from node_modules), first event ${cold.firstMs.toFixed(1)} ms (config, clients, the first TCP connection and DynamoDB calls on DynamoDB Local, for a key with a rate limit and a quota).`,
      },
      {
        id: 'cold.fromProcessStart',
        group: GROUP,
        label: 'From process start to the first answer (SDK external)',
        value: cold.fromStart,
        unit: 'ms',
        note: `Adds Node.js's own start-up and what Lambda's Node.js runtime does before it imports the handler (${cold.bootMs.toFixed(1)} ms here; \`bench/lambda-runtime.mjs\`), which a Lambda also pays but the bundle cannot change.`,
      },
      {
        id: 'cold.deployed.bundleSize',
        group: GROUP,
        label: 'Code read at cold start, bundle as the CDK construct builds it',
        value: deployed.bytes / 1024,
        unit: 'KB',
        note: `GATEPASS_ESBUILD_OPTIONS (${deployedText}; code splitting): what an import reads, ${(deployed.totalBytes / 1024).toFixed(0)} KB with the chunks loaded on demand; ${(deployed.gzipBytes / 1024).toFixed(1)} KB gzipped. Largest inputs: ${deployed.largest}.`,
      },
      {
        id: 'cold.deployed.importAndFirstEvent',
        group: GROUP,
        label: 'Import + first event, bundle as deployed',
        value: coldDeployed.total,
        unit: 'ms',
        note: `Median of ${RATIO_RUNS}: import ${coldDeployed.importMs.toFixed(1)} ms, first event ${coldDeployed.firstMs.toFixed(1)} ms.`,
      },
      {
        id: 'cold.ratioToMinimal',
        group: GROUP,
        label: 'Import time, bundle as deployed ÷ a minimal authorizer built the same way',
        short: 'Cold start ÷ minimal authorizer',
        value: ratio,
        unit: '×',
        target: { kind: 'max', value: 1 },
        note:
          `Median of ${RATIO_RUNS} fresh processes each, alternating: ${coldDeployed.importMs.toFixed(1)} ms vs ${coldMinimal.importMs.toFixed(1)} ms ` +
          `(bundles ${(deployed.bytes / 1024).toFixed(0)} KB vs ${(minimal.bytes / 1024).toFixed(0)} KB). The minimal authorizer makes one UpdateItem with the ` +
          `document client and allows; what gatepass reads beyond it: ${largestOf(beyond(deployed, minimal), 6)}. Import + first answer: ${coldDeployed.total.toFixed(1)} ms vs ${coldMinimal.total.toFixed(1)} ms ` +
          `(${(coldDeployed.total / coldMinimal.total).toFixed(2)} ×; gatepass's first answer reads the key, then counts). ` +
          `CPU time of the import, steadier on a busy machine: ${coldDeployed.importCpuMs.toFixed(1)} ms vs ${coldMinimal.importCpuMs.toFixed(1)} ms ` +
          `(${(coldDeployed.importCpuMs / coldMinimal.importCpuMs).toFixed(2)} ×).`,
      },
      {
        id: 'cold.ratioToMinimalOneFile',
        group: GROUP,
        label: 'Import time, bundle as deployed ÷ the minimal authorizer in one file',
        value: coldDeployed.importMs / coldMinimalOneFile.importMs,
        unit: '×',
        note:
          `The same minimal authorizer bundled without code splitting (one ${(minimalOneFile.bytes / 1024).toFixed(0)} KB file, as CDK's NodejsFunction builds any Lambda), ` +
          `in the same alternation: ${coldMinimalOneFile.importMs.toFixed(1)} ms. Against it, gatepass also gains what code splitting saves the AWS SDK ` +
          `(its credential providers other than the environment's are chunks loaded on demand).`,
      },
    ];
  } finally {
    table.close();
  }
}

interface ColdStart {
  readonly total: number;
  readonly importMs: number;
  readonly importCpuMs: number;
  readonly firstMs: number;
  readonly bootMs: number;
  readonly fromStart: number;
}

/** Medians over {@link RUNS} fresh processes, after one discarded run (file system cache). */
async function coldRuns(bundle: string, env: NodeJS.ProcessEnv): Promise<ColdStart> {
  await runChild(bundle, env);
  const runs: ChildTimes[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await runChild(bundle, env));
  return medians(runs);
}

/**
 * Medians over {@link RATIO_RUNS} fresh processes per bundle, the bundles taking turns (so
 * that neither gets a quieter machine), after one discarded run of each.
 */
async function alternatingRuns(bundles: readonly string[], env: NodeJS.ProcessEnv): Promise<ColdStart[]> {
  for (const bundle of bundles) await runChild(bundle, env);
  const runs = bundles.map((): ChildTimes[] => []);
  for (let i = 0; i < RATIO_RUNS; i++) {
    for (const [b, bundle] of bundles.entries()) runs[b]!.push(await runChild(bundle, env));
  }
  return runs.map(medians);
}

function medians(runs: readonly ChildTimes[]): ColdStart {
  return {
    total: median(runs.map((r) => r.importMs + r.firstEventMs)),
    importMs: median(runs.map((r) => r.importMs)),
    importCpuMs: median(runs.map((r) => r.importCpuMs)),
    firstMs: median(runs.map((r) => r.firstEventMs)),
    bootMs: median(runs.map((r) => r.bootMs)),
    fromStart: median(runs.map((r) => r.bootMs + r.importMs + r.firstEventMs)),
  };
}

function runChild(bundle: string, env: NodeJS.ProcessEnv): Promise<ChildTimes> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`cold-start child failed (exit ${code}): ${stderr.slice(-2000)}${stdout.slice(-2000)}`));
        return;
      }
      const times = JSON.parse(line.slice('BENCH_RESULT '.length)) as ChildTimes;
      if (times.effect !== 'Allow') reject(new Error(`cold-start child was denied (${times.effect}); the setup is wrong`));
      else resolve(times);
    });
  });
}
