/**
 * An HTTP proxy in front of DynamoDB (Local) that records what reaches it: each call's
 * operation, the partition keys it names and when it arrived. It sees what the SDK's HTTP
 * handler actually sent — unlike a client middleware, which also sees attempts the handler
 * then refuses (an aborted call's) — and it can hold chosen calls before forwarding them (a
 * call sent in time that lands late) or answer them with DynamoDB's throttle.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A call as it reached the proxy. */
export interface WireCall {
  /** The `x-amz-target` header (`DynamoDB_20120810.TransactWriteItems`). */
  readonly target: string;
  /** The operation it names (`TransactWriteItems`, `GetItem`, …). */
  readonly operation: string;
  /** The partition keys the call names: its `Key.pk` or `Item.pk`, or each transaction item's. */
  readonly pks: readonly string[];
  /** The request body (DynamoDB JSON). */
  readonly body: string;
}

/** A call that reached the proxy, and when (`performance.now()`, once its whole body had arrived). */
export interface Arrival extends WireCall {
  readonly at: number;
  /** Answered by the proxy with a throttle (see {@link WireProxyOptions.throttle}): it never reached DynamoDB's table. */
  readonly throttled: boolean;
}

/** Both asked once per call, as it arrives: `holdMs` first. */
export interface WireProxyOptions {
  /** How long to hold a call before forwarding it (or throttling it); 0 (the default): at once. */
  readonly holdMs?: (call: WireCall) => number;
  /** Whether to answer a call (after its hold) with DynamoDB's throttle of its item instead of forwarding it. */
  readonly throttle?: (call: WireCall) => boolean;
}

export interface WireProxy {
  /** The endpoint to give a client. */
  readonly url: string;
  /** Every call that reached the proxy, in the order of arrival. */
  readonly arrivals: Arrival[];
  close(): Promise<void>;
}

/** The partition keys a DynamoDB JSON request body names. */
export function pksOf(body: string): string[] {
  type Named = { Key?: { pk?: { S?: string } }; Item?: { pk?: { S?: string } } };
  let input: Named & { TransactItems?: Record<string, Named>[] };
  try {
    input = JSON.parse(body) as typeof input;
  } catch {
    return [];
  }
  const own = input.Key?.pk?.S ?? input.Item?.pk?.S;
  if (own !== undefined) return [own];
  return (input.TransactItems ?? []).map((item) => {
    const op = Object.values(item)[0];
    return op?.Key?.pk?.S ?? op?.Item?.pk?.S ?? '';
  });
}

/** DynamoDB's answer to a throttled call (no reason: an item's throttle, as DynamoDB Local gives). */
const THROTTLE_BODY = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message: 'throttled (simulated on the wire)',
});

/**
 * Starts a proxy on a free local port forwarding to `endpoint`.
 *
 * @example
 * const proxy = await startWireProxy(table.endpoint, { holdMs: (call) => (call.operation === 'TransactWriteItems' ? 300 : 0) });
 * const client = lambdaClient(proxy.url);
 */
export async function startWireProxy(endpoint: string, options: WireProxyOptions = {}): Promise<WireProxy> {
  const upstream = new URL(endpoint);
  const arrivals: Arrival[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      const target = String(req.headers['x-amz-target'] ?? '');
      const call: WireCall = { target, operation: target.slice(target.lastIndexOf('.') + 1), pks: pksOf(body), body };
      const hold = options.holdMs?.(call) ?? 0;
      const throttled = options.throttle?.(call) ?? false;
      arrivals.push({ ...call, at, throttled });
      const answer = () => {
        if (throttled) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(THROTTLE_BODY);
          return;
        }
        const out = httpRequest(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
          (upstreamAnswer) => {
            res.writeHead(upstreamAnswer.statusCode ?? 500, upstreamAnswer.headers);
            upstreamAnswer.pipe(res);
          },
        );
        out.on('error', () => res.destroy());
        out.end(raw);
      };
      if (hold > 0) setTimeout(answer, hold);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
