#!/usr/bin/env -S node --import tsx
import { Command, InvalidArgumentError } from 'commander';
import { GatepassError } from '../lambdas/core/errors.ts';
import { DynamoDbLocalError } from '../local/dynamodb-local.ts';
import { startDev } from '../local/dev.ts';
import { devBanner } from '../local/banner.ts';

const program = new Command()
  .name('gatepass')
  .description('A strongly consistent authorizer for Amazon API Gateway')
  .showHelpAfterError();

program
  .command('dev')
  .description('run the local gateway and admin API on DynamoDB Local')
  .option('--config <file>', 'config file (default: ./gatepass.config.json if present)')
  .option('--port <port>', 'gateway port (default 3000)', port)
  .option('--admin-port <port>', 'admin API port (default 3001)', port)
  .option('--upstream <url>', 'proxy allowed requests to this URL (default: built-in echo)')
  .option('--no-seed', 'do not create the demo keys')
  .option('--dynamodb-endpoint <url>', 'use this running DynamoDB instead of starting DynamoDB Local')
  .option('--data-dir <dir>', "keep DynamoDB Local's data in this folder (default: in memory)")
  .action(async (opts: { config?: string; port?: number; adminPort?: number; upstream?: string; seed: boolean; dynamodbEndpoint?: string; dataDir?: string }) => {
    const dev = await startDev(opts);
    process.stdout.write(devBanner(dev));
    let stopping = false;
    const shutdown = () => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('\nstopping…\n');
      void dev.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

try {
  await program.parseAsync();
} catch (error) {
  // Known problems get one clear line; anything else is a bug worth a stack trace.
  if (error instanceof GatepassError || error instanceof DynamoDbLocalError) {
    process.stderr.write(`gatepass: ${error.message}\n`);
    process.exit(1);
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    const { port } = error as NodeJS.ErrnoException & { port?: number };
    process.stderr.write(`gatepass: port ${port ?? ''} is already in use; choose another with --port / --admin-port\n`);
    process.exit(1);
  }
  throw error;
}
