import { Command, InvalidArgumentError } from 'commander';
import type { CliIo } from './common.ts';

/** `gatepass dev`: the local gateway and admin API on DynamoDB Local (README, "Quick start"). */
export function devCommand(io: CliIo): Command {
  return new Command('dev')
    .description('run the local gateway and admin API on DynamoDB Local')
    .option('--config <file>', 'config file (default: ./gatepass.config.json if present)')
    .option('--port <port>', 'gateway port (default 3000)', port)
    .option('--admin-port <port>', 'admin API port (default 3001)', port)
    .option('--upstream <url>', 'proxy allowed requests to this URL (default: built-in echo)')
    .option('--no-seed', 'do not create the demo keys')
    .option('--dynamodb-endpoint <url>', 'use this running DynamoDB instead of starting DynamoDB Local')
    .option('--data-dir <dir>', "keep DynamoDB Local's data in this folder (default: in memory)")
    .option('--console-port <port>', 'web console port (default 3002)', port)
    .option('--no-console', 'do not serve the web console')
    .option('--verbose', "also print the authorizer's JSON log line of each denial (default: the access log only)")
    .action(
      async (opts: {
        config?: string;
        port?: number;
        adminPort?: number;
        upstream?: string;
        seed: boolean;
        dynamodbEndpoint?: string;
        dataDir?: string;
        consolePort?: number;
        console: boolean;
        verbose?: boolean;
      }) => {
        // Imported here: the key and policy commands need none of the local stack.
        const [{ startDev }, { devBanner }] = await Promise.all([import('../../local/dev.ts'), import('../../local/banner.ts')]);
        // The access log: one line per request, as a gateway prints it.
        const { console: serveConsole, consolePort, ...rest } = opts;
        const web = serveConsole ? { console: { port: consolePort ?? 3002 } } : {};
        const dev = await startDev({ ...rest, ...web, accessLog: (line) => io.out(`${line}\n`) });
        io.out(devBanner(dev));
        let stopping = false;
        const shutdown = (): void => {
          if (stopping) return;
          stopping = true;
          io.out('\nstopping…\n');
          void dev.stop().then(() => process.exit(0));
        };
        process.on('SIGINT', shutdown);
        process.on('SIGTERM', shutdown);
      },
    );
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}
