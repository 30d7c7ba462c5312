// Runs in a fresh `node` process (plain JavaScript: no tsx, no loader), as Lambda would run
// the bundle: imports it, answers one event, prints the timings on one line.
// argv[2]: absolute path of the bundle; BENCH_EVENT: the event JSON.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const bootMs = performance.now(); // since the process started (performance.timeOrigin)
const cpuBefore = process.cpuUsage();
const { handler } = await import(pathToFileURL(process.argv[2]).href);
const importedMs = performance.now();
const cpu = process.cpuUsage(cpuBefore); // the import's CPU time: steadier than wall time on a busy machine
const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'gatepass-authorizer',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:gatepass-authorizer',
  memoryLimitInMB: '256',
  awsRequestId: randomUUID(),
  logGroupName: '/aws/lambda/gatepass-authorizer',
  logStreamName: 'local',
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};
const result = await handler(JSON.parse(process.env.BENCH_EVENT), context);
const answeredMs = performance.now();
const effect = result?.policyDocument?.Statement?.[0]?.Effect;
process.stdout.write(
  `BENCH_RESULT ${JSON.stringify({ bootMs, importMs: importedMs - bootMs, importCpuMs: (cpu.user + cpu.system) / 1000, firstEventMs: answeredMs - importedMs, effect })}\n`,
);
process.exit(0); // the SDK's keep-alive sockets would otherwise hold the process open
