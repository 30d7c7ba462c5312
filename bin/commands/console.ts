import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ADMIN_URL, transportOf, type CliIo } from './common.ts';

/**
 * `gatepass console`: the web console on this machine, for any admin API — the local one,
 * or a deployed stack's Function URL, each call signed with SigV4 from the standard AWS
 * credential chain (as the other commands do). The browser gets no credential: it talks
 * to the console's local server only (127.0.0.1, a token, see local/console/guard.ts).
 */
export function consoleCommand(io: CliIo): Command {
  return new Command('console')
    .description('serve the web console on 127.0.0.1 for an admin API (a deployed Function URL is signed with your AWS credentials)')
    .addOption(
      new Option('--admin-url <url>', `admin API URL (env GATEPASS_ADMIN_URL, default ${DEFAULT_ADMIN_URL})`).conflicts('function'),
    )
    .addOption(new Option('--function <name>', 'invoke this admin Lambda instead (AWS region and credentials from the environment)'))
    .addOption(
      new Option(
        '--region <region>',
        'sign --admin-url requests (SigV4) for this AWS Region; a Function URL is signed for its own Region without it',
      ).conflicts('function'),
    )
    .option('--port <port>', 'console port (default 3002; 0 = a free port)', port, 3002)
    .option('--api-id <id>', 'API id the explain form starts with')
    .option('--stage <stage>', 'stage the explain form starts with')
    .action(async (opts: { adminUrl?: string; function?: string; region?: string; port: number; apiId?: string; stage?: string }) => {
      const transport = transportOf(io, opts);
      const { startConsole } = await import('../../local/console/server.ts');
      const web = await startConsole({
        transport,
        port: opts.port,
        ...(opts.apiId === undefined ? {} : { apiId: opts.apiId }),
        ...(opts.stage === undefined ? {} : { stage: opts.stage }),
      });
      io.out(
        `gatepass console for ${transport.target}\n  open ${web.url}\n  (only this machine can reach it; the link signs your browser in)\nCtrl-C stops it.\n`,
      );
      const shutdown = (): void => void web.close().then(() => process.exit(0));
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}
