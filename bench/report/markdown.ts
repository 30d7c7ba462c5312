/**
 * docs/BENCHMARKS.md, rewritten by every `npm run bench`. The prose lives here, next to
 * the figures it explains; numbers in it come from the run.
 */
import { meets, targetText, valueText, verdictText, type Figure } from '../lib/figures.ts';
import type { MachineInfo } from '../lib/machine.ts';

export interface Report {
  readonly figures: readonly Figure[];
  readonly machine: MachineInfo;
  readonly durationSeconds: number;
  /** Path of the chart relative to docs/. */
  readonly chart: string;
}

/** Why a target is missed, by figure id: what the design does and what it would take. */
const MISS_EXPLANATIONS: Record<string, string> = {
  'requests.apiKey.limited':
    'Steady state is one conditional UpdateItem: the instance remembers the key\'s settings and counts with a write conditioned on their version and on the counters\' room. More than 1 here means the measured requests crossed a window boundary (the take fails, the open succeeds: see the "new rate window each time" row) or a settings change (one read).',
  'requests.jwt.limited':
    'As for an API key: one conditional UpdateItem in steady state; each window boundary costs an extra write, and a policy is read once per policyCacheSeconds.',
  'requests.renew.unlimited':
    "With a postAuth hook the session is read first (the hook must see it), then the hook's renewal writes (ALL_NEW, no re-read: I4). A key with nothing to count needs no third request.",
  'requests.renew.limited':
    "GetItem, the hook's renewal (a settings write, guarded by the version) and the counting write (guarded by the version the renewal produced and the counters) are three requests. Two would need the renewal folded into the counting UpdateItem — `updateSession` deferring its patch until the decision, a change to its contract (today it resolves to the session as written). A renewal happens once per session lifetime; the steady state of a hooked key is two.",
  'cold.bundleSize':
    "What a cold start reads: the construct bundles with code splitting, so re2js, zod, jose, the plugin code and the AWS SDK's other credential providers are chunks that only `import()` loads. What is left is gatepass's own decision code and the Powertools logger and metrics, which every request uses.",
  'cold.importAndFirstEvent':
    'Most of it is loading code, and most of that is the AWS SDK: with `@aws-sdk/*` external, Node.js resolves and compiles the SDK\'s modules file by file from node_modules (importing `@aws-sdk/client-dynamodb` alone takes about 130 ms in a fresh process here); gatepass\'s own start-up code is about 92 KB of it. The first event (config, clients, first connection, first DynamoDB call) is small. Bundling the SDK in, as the CDK construct does ("as deployed" rows), is faster; going under 100 ms with the SDK external would take a lighter DynamoDB client than the SDK v3. A busy machine (see the load average) inflates all of this.',
  'hotKey.allowedPerW':
    'A spread key counts on up to 64 counter items, each taking W writes a second, and the session item takes W / 2 fills a second (each a lease of up to 128): below the target, the key is capped by its counter items or by fills, or the run ended before the key finished spreading.',
  'hotKey.share500':
    "A throttled spend goes to another counter item and a throttled fill pauses; a request fails closed (500) when 8 steps of spends and fills, within the pipeline's 8 decisions, all met throttled items, or the spreading write itself could not land: a load past every counter item's W.",
  'hotKey.p99':
    "The slow requests are the first half second's: the key starts cold, so its first counts spend the session item's burst, and the requests in flight (one per connection) then wait for the spreading write and the first fill, each a write of the session item, whose units come back at W a second (about 0.4 s in all at W = 10). After that, requests are answered about as fast as without the ceiling. With DynamoDB's W of about 1,000 that wait is about a hundred times shorter. A run whose first fill is late (the machine busy) puts more than 1 % of its requests in it.",
  'hotKey.quota.allowed': 'More allowed than the quota: the counting is not exact on a hot key.',
  'hotKey.requests.cold':
    'More than one request per steady-state decision for a key well under the ceiling: a cold key should cost what one conditional write costs.',
  'cold.ratioToMinimal':
    "Both builds use code splitting, carry the same AWS SDK and start after the same runtime steps (`bench/lambda-runtime.mjs`). Wall times moved by ±10 % between runs on this shared machine (load average 4 to 9 during the last measurement: 1.22, 1.31 and 1.36 × in three runs, the commit before in the same turns 1.07, 1.24 and 1.18 ×), so the import was also counted in CPU instructions (callgrind, a whole fresh process less one that imports an empty module, 2 to 3 runs each): gatepass 217 M against 169 M for the minimal authorizer, 1.28 × (before: 219 to 232 M against 174 M, 1.26 to 1.33 ×). Where the extra goes, from CPU profiles of the import (20 fresh processes each) and from builds that add one part at a time to the minimal authorizer: V8 compiling more module source, about 6 ms of profiled time (gatepass's start-up code is 340 KB against 239 KB); gatepass's module-scope work beyond the minimal authorizer's, about 3 ms (creating the Powertools Logger 1.2 ms and Metrics 0.6 ms, the DynamoDB client's timeouts and retry strategy 0.6 ms, the request-counting middleware 0.25 ms, the config check 0.2 ms); and each file Node's ESM loader reads, about 0.35 ms of wall time (1.1 M instructions; 14 files against 9). Powertools in all — loading and creating a Logger and Metrics — adds about 2 ms (9 M instructions) to the minimal authorizer; neither package has a lighter entry point. Code an ordinary key's first request does not run pays to load on demand only if that adds no file read at start: esbuild gives the modules shared by the start and an `import()`ed chunk a chunk of their own for each set of importers. The plugin code (loader and hook calls, 7 KB) is loaded on demand at the same cost as before (two more small start files); loading the hot-key spreading code or the policy store on demand (6 and 3 KB less at start) added one or two start files each and measured slower (15 to 20 M instructions more), so they stay in the start code. The `require` esbuild's banner gives every output file is now made on its first call (none of the Lambdas calls it), about 0.2 ms less per file for both builds, which leaves the ratio where it was. Going under 1 × would take fewer start files and less code on every request's path — a smaller logger and metric writer than Powertools, a smaller counting core — not moving work to the first request, which needs all of it.",
  'throughput.ratio':
    'The ratio moves by about ±0.1 from run to run on this machine, and falls far lower when other processes compete for its 2 cores. The CPU lines tell where the limit is: the gateway process — one Node.js thread running the local API Gateway stand-in, the authorizer and the AWS SDK — runs near a full core, while DynamoDB Local has CPU to spare; per request about 0.45 ms of it is the SDK (see the CPU table) and most of the rest the local emulator (HTTP server, event building, JSON round trips, echo backend). In AWS the authorizer runs in its own Lambda instances, scaled out, and API Gateway is not this process.',
};

export function renderMarkdown(report: Report): string {
  const { figures, machine } = report;
  const out: string[] = [];
  const missed = figures.filter((f) => meets(f) === false);
  const targeted = figures.filter((f) => f.target !== undefined);

  out.push('# Benchmarks');
  out.push('');
  out.push('<!-- Written by `npm run bench` (bench/report/markdown.ts); edit that file, not this one. -->');
  out.push('');
  out.push(
    `Measured ${machine.date.slice(0, 10)} on ${machine.cores} cores (${machine.cpu}), commit ${machine.commit}; ` +
      `the whole run took ${Math.round(report.durationSeconds)} s. ${targeted.length - missed.length} of ${targeted.length} targets met` +
      (missed.length > 0 ? `; missed: ${missed.map((f) => f.short ?? f.label).join(', ')} (why: [below](#targets-missed-and-why)).` : '.'),
  );
  if (machine.loadAverage.start > machine.cores || (machine.loadAverage.end ?? 0) > machine.cores) {
    out.push('');
    out.push(
      `> **The machine was busy during this run** (1-minute load average ${machine.loadAverage.start} at the start, ` +
        `${machine.loadAverage.end ?? '?'} at the end, on ${machine.cores} cores): timings and throughput are pessimistic. ` +
        'Request counts and bundle size do not depend on load.',
    );
  }
  out.push('');
  out.push(`![Each figure as a share of its target, and throughput](${report.chart})`);
  out.push('');

  let group: string | undefined;
  for (const figure of figures) {
    if (figure.group !== group) {
      group = figure.group;
      out.push('');
      out.push(`## ${group}`);
      out.push('');
      out.push(GROUP_MEANING[group] ?? '');
      out.push('');
      out.push('| figure | measured | target | | notes |');
      out.push('|---|--:|---|---|---|');
    }
    out.push(
      `| ${figure.label} | ${valueText(figure)} | ${targetText(figure)} | ${verdictText(figure)} | ${(figure.note ?? '').replace(/\|/g, '\\|')} |`,
    );
  }

  out.push('');
  out.push('## Targets missed, and why');
  out.push('');
  if (missed.length === 0) out.push('None in this run.');
  for (const figure of missed) {
    out.push(
      `- **${figure.label}: ${valueText(figure)}, target ${targetText(figure)}.** ${MISS_EXPLANATIONS[figure.id] ?? figure.note ?? ''}`,
    );
  }

  out.push('');
  out.push('## How to reproduce');
  out.push('');
  out.push('```sh');
  out.push('npm ci            # Java 17+ must be on PATH for DynamoDB Local');
  out.push('npm run bench     # about 1½–2 minutes; writes bench/results.json, docs/benchmarks.svg and this file');
  out.push('```');
  out.push('');
  out.push(
    '`npm run bench` starts its own DynamoDB Local (in memory, on a free port) and stops it at the end; it needs nothing else ' +
      'running and sends traffic only to 127.0.0.1. Close other heavy processes first: the run shares 2 cores between the ' +
      "authorizer, the load generator and DynamoDB Local's JVM. `bench/results.json` holds every figure with its target " +
      'and the machine description below. The modules: `bench/requests-per-auth.ts`, `bench/cpu.ts`, ' +
      '`bench/cold-start.ts`, `bench/throughput.ts`, `bench/hot-key.ts`, orchestrated by `bench/run.ts`.',
  );
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push('| | |');
  out.push('|---|---|');
  out.push(`| date | ${machine.date} |`);
  out.push(`| commit | ${machine.commit} |`);
  out.push(`| CPU | ${machine.cpu}, ${machine.cores} cores available |`);
  out.push(`| memory | ${machine.memoryGiB} GiB |`);
  out.push(`| OS | ${machine.os} |`);
  out.push(`| Node.js | ${machine.node} (Lambda runs Node.js 22; the bundle targets node22) |`);
  out.push(`| Java | ${machine.java} |`);
  out.push(`| DynamoDB Local | ${machine.dynamodbLocal} |`);
  out.push(`| load average (1 min) | ${machine.loadAverage.start} at start, ${machine.loadAverage.end ?? '?'} at end |`);
  out.push('');
  return out.join('\n');
}

/** What each group means for someone running gatepass. */
const GROUP_MEANING: Record<string, string> = {
  'DynamoDB requests per allowed authorization':
    'How many round trips sit between API Gateway and the answer, and what DynamoDB bills for them. Every read is ' +
    'strongly consistent (I2) and every write conditional (I3): these are the costs of never deciding on stale state. ' +
    "Counted with an SDK middleware on the authorizer's own document client, averaged over 50 allowed requests after " +
    'one warm-up, with the capacity units DynamoDB Local reports. Units matter as much as requests: on on-demand ' +
    'pricing a write request unit costs five times a read request unit, a strongly consistent read of up to 4 KB is ' +
    '1 read unit, and a write costs 1 write unit per KB of the item — so a key without limits costs one consistent read, ' +
    'and a counted request at least 1 write unit, more for large sessions.',
  'Authorizer CPU time per decision (DynamoDB answered from memory)':
    'The compute the authorizer itself adds to each request — Lambda bills it by the millisecond — with DynamoDB taken ' +
    'out: the handler (the Powertools logger context, event parsing, the pipeline, the answer) runs against a ' +
    'stand-in client that answers from memory. p50 is the typical request, p99 the slow one in a hundred (garbage ' +
    "collection, JIT). The last row keeps the real AWS SDK stack over an in-memory HTTP handler, to show the SDK's share. " +
    'The metric line the deployed authorizer writes per decision (Powertools Metrics, turned off here so the report stays ' +
    'readable) adds about 0.02 ms, measured apart.',
  'Cold start':
    'What the first request after a new Lambda instance starts pays. The bundle is built like the CDK construct builds ' +
    'it (esbuild, ESM, node22, minified, code splitting: `index.mjs` and `chunks/`) with `@aws-sdk/*` left external, as ' +
    'the Lambda runtime provides an SDK; a fresh `node` process then imports it and answers one REST REQUEST event ' +
    'against DynamoDB Local. Sizes are what an import reads (`index.mjs` and the chunks it imports); the chunks only ' +
    '`import()` loads are in the notes. The "as deployed" rows use the construct\'s own build (the SDK bundled too), and ' +
    'are held against a minimal authorizer built the same way (bench/minimal-authorizer.ts: one UpdateItem with the ' +
    'document client, then Allow), the two started in turn in fresh processes: the ratio is what gatepass adds to the ' +
    'floor. The last row holds gatepass against the same minimal authorizer built as one file. Each fresh process first ' +
    "does what Lambda's Node.js runtime does before it imports a handler (`bench/lambda-runtime.mjs`, following the " +
    "runtime interface client's `src/index.mjs` `run()`: the Node modules its own code loads — util, fs, path, assert, " +
    "net, http —, the console patch, the RAPID client's keep-alive agent, process listeners, the `awslambda` global, the " +
    'probes for the handler file, then `import()` of its path), and nothing else: the runtime opens neither stdout nor ' +
    'node:crypto before the import.',
  'Throughput (local gateway vs raw DynamoDB Local, same run, same concurrency)':
    "How much of the store's capacity the whole gateway path keeps. autocannon drives the local gateway (`startDev`: " +
    'the real authorizer handler in front of the echo backend) in a separate process; the raw figures are the same ' +
    'DynamoDB Local driven directly with the same client settings and the same number of requests in flight. On AWS ' +
    'the store scales out and this ratio is not the limit; locally it shows what the gateway path adds per request.',
  'Hot key (one key past the per-item ceiling, simulated)':
    'On DynamoDB one item takes about 1,000 write units and 3,000 read units a second; past that its requests are ' +
    'throttled (`ProvisionedThroughputExceededException`), however the table is billed. DynamoDB Local never throttles, ' +
    "so the bench puts the ceiling back, scaled down: an SDK middleware (`local/throughput-ceiling.ts`) below the SDK's " +
    "retries gives each item a bucket of W write units and 3 W read units a second (one second's worth of burst; a " +
    'write is 1 unit, a strongly consistent read 1, each item of a transaction 2) and throttles every attempt past it. ' +
    'One key is then driven through the local gateway by autocannon, in front of the real authorizer handler on the ' +
    'client the Lambda uses (its 400 ms attempt timeout, 2 attempts 50 ms apart); keys are made through the admin API. ' +
    "The same setup without the ceiling gives the reference. Requests per decision come from the authorizer's own " +
    'count (every SDK attempt, throttled ones included); units from the capacity DynamoDB Local reports (by item size), ' +
    'priced at on-demand rates.',
};
