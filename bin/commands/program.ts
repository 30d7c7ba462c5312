import { Command, CommanderError } from 'commander';
import { GatepassError } from '../../lambdas/core/model/errors.ts';
import { packageVersion } from '../package-version.ts';
import { ApiError, type CliIo } from './common.ts';
import { consoleCommand } from './console.ts';
import { devCommand } from './dev.ts';
import { keysCommand } from './keys.ts';
import { UsageError } from './parse.ts';
import { policiesCommand } from './policies.ts';
import { TransportError } from './transport.ts';

/** Exit codes: 0 ok, 1 the admin API (or the local stack) reported an error, 2 usage error. */
export const EXIT = { ok: 0, apiError: 1, usage: 2 } as const;

/** The `gatepass` command line: `dev`, `keys …` and `policies …`. */
export function createProgram(io: CliIo): Command {
  const program = new Command()
    .name('gatepass')
    .description('A strongly consistent authorizer for Amazon API Gateway')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the subcommands are added: they inherit both.
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program.addCommand(withInherited(devCommand(io), program));
  program.addCommand(withInherited(keysCommand(io), program));
  program.addCommand(withInherited(policiesCommand(io), program));
  program.addCommand(withInherited(consoleCommand(io), program));
  return program;
}

/**
 * Runs the command line and answers its exit code; never calls `process.exit` (so that
 * `dev` keeps running and tests can run it in-process).
 *
 * @example
 * process.exitCode = await runCli(process.argv, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env });
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await createProgram(io).parseAsync(argv as string[]);
    return EXIT.ok;
  } catch (error) {
    return report(error, io);
  }
}

/**
 * The errors of the local stack (`local/dynamodb-local-errors.ts`), known by name: `dev`
 * imports the local stack lazily, so this module does not import their classes.
 */
const LOCAL_STACK_ERRORS = new Set(['DynamoDbLocalError', 'JavaNotFoundError']);

function report(error: unknown, io: CliIo): number {
  // Commander has already printed its message (and the help).
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof UsageError) {
    io.err(`gatepass: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof ApiError) {
    io.err(`gatepass: ${error.status} ${error.code}: ${error.message}\n${detailLines(error.details)}`);
    return EXIT.apiError;
  }
  // Known problems get one clear line; anything else is a bug worth a stack trace.
  if (
    error instanceof TransportError ||
    error instanceof GatepassError ||
    LOCAL_STACK_ERRORS.has((error as Error | undefined)?.name ?? '')
  ) {
    io.err(`gatepass: ${(error as Error).message}\n`);
    return EXIT.apiError;
  }
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') {
    const { port } = error as NodeJS.ErrnoException & { port?: number };
    io.err(`gatepass: port ${port ?? ''} is already in use; choose another with --port / --admin-port / --console-port\n`);
    return EXIT.apiError;
  }
  throw error;
}

function detailLines(details: unknown): string {
  if (Array.isArray(details)) {
    return details.map((d: { field?: string; message?: string }) => `  ${d.field ?? '?'}: ${d.message ?? ''}\n`).join('');
  }
  return details === undefined ? '' : `  ${JSON.stringify(details)}\n`;
}

/** Commander copies settings to subcommands made with `.command()`; these groups are built apart. */
function withInherited(group: Command, program: Command): Command {
  const inherit = (command: Command): void => {
    command.copyInheritedSettings(program);
    command.commands.forEach(inherit);
  };
  inherit(group);
  return group;
}
