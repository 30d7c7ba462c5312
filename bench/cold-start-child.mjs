// Runs in a fresh `node` process (plain JavaScript: no tsx, no loader), as Lambda would run
// the bundle: first what Lambda's Node.js runtime does before it imports the handler
// (lambda-runtime.mjs), then the import, then one event; prints the timings on one line.
// argv[2]: absolute path of the bundle; BENCH_EVENT: the event JSON.
import { prepareAsLambdaRuntime } from './lambda-runtime.mjs';

const handlerFile = process.argv[2];
prepareAsLambdaRuntime(handlerFile);
const bootMs = performance.now(); // since the process started (performance.timeOrigin): Node's start and the runtime's
const cpuBefore = process.cpuUsage();
const { handler } = await import(handlerFile); // a path, as the runtime imports it
const importedMs = performance.now();
const cpu = process.cpuUsage(cpuBefore); // the import's CPU time: steadier than wall time on a busy machine
// node:crypto only now: the runtime does not load it before the handler (both bundles load it anyway).
const { randomUUID } = await import('node:crypto');
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
const eventStartMs = performance.now();
const result = await handler(JSON.parse(process.env.BENCH_EVENT), context);
const answeredMs = performance.now();
const effect = result?.policyDocument?.Statement?.[0]?.Effect;
process.stdout.write(
  `BENCH_RESULT ${JSON.stringify({ bootMs, importMs: importedMs - bootMs, importCpuMs: (cpu.user + cpu.system) / 1000, firstEventMs: answeredMs - eventStartMs, effect })}\n`,
);
process.exit(0); // the SDK's keep-alive sockets would otherwise hold the process open
