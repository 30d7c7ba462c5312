// The load generator of the throughput measurement, in its own process so that it does not
// share an event loop with the gateway it measures. argv[2]: JSON options
// {url, connections, durationSeconds, headers}. Prints one `BENCH_RESULT {...}` line.
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2]);
const url = new URL(options.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
  throw new Error(`the load generator only targets loopback addresses, not ${url.hostname}`);
}
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.durationSeconds,
  headers: options.headers,
  timeout: 10,
});
const { latency, requests } = result;
process.stdout.write(
  `BENCH_RESULT ${JSON.stringify({
    total: requests.total,
    durationSeconds: result.duration,
    perSecond: requests.total / result.duration,
    latency: { p50: latency.p50, p90: latency.p90, p97_5: latency.p97_5, p99: latency.p99, max: latency.max },
    status2xx: result['2xx'],
    status4xx: result['4xx'],
    status5xx: result['5xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  })}\n`,
);
