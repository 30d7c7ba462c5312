import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig, type ConfigInput } from '../../lambdas/core/model/config.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { silentLog, type Log } from '../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { Pipeline, type AuthRequest } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';

/**
 * A pipeline, a key service and a store on one test table, with a settable clock; and
 * `pipelineWith(plugins)`, another instance on the same table with those plugins.
 */
export function pipelineOn(
  client: DynamoDBClient,
  tableName: string,
  options: { config?: Partial<ConfigInput>; log?: Log; clock?: () => number } = {},
) {
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const config = parseConfig(JSON.stringify({ tableName, ...options.config }));
  const store = new SessionStore({ client: doc, tableName, retentionSeconds: config.sessionRetentionSeconds });
  const clock = options.clock ?? Date.now;
  const pipelineWith = (plugins: readonly GatepassPlugin[] = []) =>
    new Pipeline({ config, store, log: options.log ?? silentLog, clock, plugins });
  const keys = new KeyService(store, () => Math.floor(clock() / 1000));
  return { pipeline: pipelineWith(), pipelineWith, keys, store, doc, config };
}

/** A request for `key` to `GET /pets` on API `api1`, stage `prod`. */
export function requestWith(key: string | undefined, overrides: Partial<AuthRequest> = {}): AuthRequest {
  return {
    apiId: 'api1',
    stage: 'prod',
    method: 'GET',
    path: '/pets',
    headers: key === undefined ? {} : { authorization: key },
    query: {},
    sourceIp: '127.0.0.1',
    ...overrides,
  };
}

/** Runs `n` calls of `fn` at once and waits for all of them. */
export function concurrently<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
}

/** A log that stamps the first hook fault (a hook that ran past its deadline): `deadline()` answers when, or Infinity. */
export function deadlineLog(): { log: Log; deadline: () => number } {
  let at = Number.POSITIVE_INFINITY;
  const log: Log = {
    debug() {},
    info() {},
    warn() {},
    error(_message, ...extra) {
      if (String((extra[0] as { error?: unknown } | undefined)?.error).includes('ran past')) at = Math.min(at, performance.now());
    },
  };
  return { log, deadline: () => at };
}

/** The outcome of one request as a word: 'allowed', or the code of the error it failed closed with. */
export function outcomeOf(pipeline: Pick<Pipeline, 'authorize'>, key: string): Promise<string> {
  return pipeline.authorize(requestWith(key)).then(
    () => 'allowed',
    (e: { code?: string }) => String(e.code),
  );
}
