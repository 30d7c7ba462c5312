import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { createAdminHandler } from '../lambdas/admin/handler.ts';
import { createAuthorizerHandler } from '../lambdas/authorizer/handler.ts';
import { KeyService } from '../lambdas/admin/key-service.ts';
import { SessionIndex } from '../lambdas/admin/session-index.ts';
import { SessionStore } from '../lambdas/core/store/store.ts';
import { UsageWriter } from '../lambdas/core/usage/usage-writer.ts';
import { AccessLog } from './access-log.ts';
import { startAdminServer } from './admin-server.ts';
import { HttpTransport } from '../bin/commands/transport.ts';
import { startConsole } from './console/server.ts';
import { loadLocalConfig } from './config-file.ts';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.ts';
import { startGateway } from './gateway.ts';
import { lambdaContext } from './lambda-context.ts';
import { seedDemo, type SeededKeys } from './seed.ts';
import { createDynamoClient, ensureTable } from './table.ts';
import { LocalUsageFeed } from './usage-feed.ts';

export interface DevOptions {
  /** Config file. @default ./gatepass.config.json if present */
  readonly config?: string;
  /** Gateway port (0 = free port). @default the config's local.port (3000) */
  readonly port?: number;
  /** Admin port (0 = free port). @default the config's local.adminPort (3001) */
  readonly adminPort?: number;
  /** Where allowed requests go. @default the built-in echo backend */
  readonly upstream?: string;
  /** Seed a demo key. @default true */
  readonly seed?: boolean;
  /** Use a running DynamoDB instead of starting DynamoDB Local. */
  readonly dynamodbEndpoint?: string;
  /** Keep DynamoDB Local's data in this folder. @default in memory */
  readonly dataDir?: string;
  /** @default no logs from the gateway itself */
  readonly gatewayLog?: (entry: object) => void;
  /** Receives the access log, one line per request (`npm start` prints it). @default none */
  readonly accessLog?: (line: string) => void;
  /** Serve the web console (on `port`, 0 = a free port). @default no console (`gatepass dev` serves it on 3002) */
  readonly console?: { readonly port?: number };
  /**
   * The authorizer's own JSON log lines at info level too (each denial's `request denied`
   * line); without it only its warnings and errors, the access log saying the rest.
   * @default false
   */
  readonly verbose?: boolean;
}

export interface DevServer {
  readonly gatewayUrl: string;
  readonly adminUrl: string;
  readonly dynamodbEndpoint: string;
  /**
   * Why the DynamoDB Local started here listens on every interface (no network namespace
   * could be made); undefined when it is kept to 127.0.0.1, or when `dynamodbEndpoint` was given.
   */
  readonly dynamodbExposed?: string;
  readonly tableName: string;
  readonly seeded: SeededKeys | undefined;
  /** The plugins the authorizer runs (entry paths); they may change the answers the banner predicts. */
  readonly plugins?: readonly string[];
  /** The web console's URL, with its token; `undefined` without the `console` option. */
  readonly consoleUrl?: string;
  stop(): Promise<void>;
}

/**
 * `gatepass dev`: DynamoDB Local (or a given endpoint), the table, the local gateway in
 * front of the real authorizer handler, the admin handler on its own port, and demo data.
 * Everything started here is stopped by `stop()`, even when start-up fails half way.
 */
export async function startDev(options: DevOptions = {}): Promise<DevServer> {
  const { config } = loadLocalConfig(options.config);
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };

  try {
    let db: DynamoDbLocal | undefined;
    if (options.dynamodbEndpoint === undefined) {
      // In a network namespace of its own where the machine allows one: on 127.0.0.1 only.
      db = await startDynamoDbLocal({ isolate: true, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
      stops.push(() => db!.stop());
    }
    const endpoint = options.dynamodbEndpoint ?? db!.endpoint;
    const raw = createDynamoClient(endpoint);
    stops.push(async () => raw.destroy());
    await ensureTable(raw, config.tableName);
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });

    // Usage is counted in process, by the deployed aggregator's code, as each request is answered.
    const usage = new LocalUsageFeed(
      new UsageWriter({ client, tableName: config.tableName }),
      options.gatewayLog ?? ((entry) => process.stderr.write(`${JSON.stringify(entry)}\n`)),
    );
    stops.push(() => usage.idle());
    const accessLog = new AccessLog({
      write: options.accessLog ?? (() => undefined),
      apiKeyHeader: config.apiKeyHeader,
      jwt: config.jwt !== undefined,
    });
    const authorizer = createAuthorizerHandler({
      config,
      client,
      logger: new Logger({ serviceName: 'gatepass-authorizer', logLevel: options.verbose ? 'INFO' : 'WARN' }),
      metrics: false,
      onDecision: async (record, event) => {
        accessLog.decided(record, event as Parameters<AccessLog['decided']>[1]);
        await usage.record(record);
      },
    });
    const gateway = await startGateway({
      authorizer: (event) => authorizer(event, lambdaContext('gatepass-authorizer')),
      apiId: config.local.apiId,
      stage: config.local.stage,
      port: options.port ?? config.local.port,
      ...((options.upstream ?? config.local.upstream) ? { upstream: (options.upstream ?? config.local.upstream)! } : {}),
      log: (entry) => {
        options.gatewayLog?.(entry);
        accessLog.answered(entry);
      },
    });
    stops.push(() => gateway.close());

    const store = new SessionStore({ client, tableName: config.tableName, retentionSeconds: config.sessionRetentionSeconds });
    const index = new SessionIndex({ client, tableName: config.tableName });
    const seeded = options.seed === false ? undefined : await seedDemo(new KeyService(store, undefined, { index }));

    // Last: the admin port answering /health means everything is ready.
    const admin = await startAdminServer({
      // Its audit lines (one per write) are printed whatever the verbosity.
      handler: createAdminHandler({ config, client, caller: 'local' }),
      port: options.adminPort ?? config.local.adminPort,
      log: (entry) => accessLog.admin(entry),
    });
    stops.push(() => admin.close());

    // The web console, in front of the admin port (it talks to nothing else).
    const web = options.console
      ? await startConsole({
          transport: new HttpTransport(admin.url),
          port: options.console.port,
          apiId: config.local.apiId,
          stage: config.local.stage,
        })
      : undefined;
    if (web) stops.push(() => web.close());
    const consoleUrl = web ? { consoleUrl: web.url } : {};

    return {
      gatewayUrl: gateway.url,
      adminUrl: admin.url,
      dynamodbEndpoint: endpoint,
      ...(db?.isolationProblem === undefined ? {} : { dynamodbExposed: db.isolationProblem }),
      tableName: config.tableName,
      seeded,
      plugins: config.plugins,
      ...consoleUrl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
