/**
 * Keeps DynamoDB Local to this machine. DynamoDB Local listens on every interface and has
 * no option to choose its address (`-help` lists none; `-host` is refused), so anyone on
 * the developer's network could read and write the local table. Here it runs in a network
 * namespace of its own, made by an unprivileged user namespace (`unshare --user --net`, no
 * root needed): the namespace has a loopback interface and nothing else, so nothing outside
 * it can reach the port. A small relay inside the namespace exposes the port as a Unix
 * socket in a private folder (mode 0700), and one outside serves that socket on
 * 127.0.0.1 — so DynamoDB Local answers on this machine's loopback only, like every other
 * server of gatepass dev.
 *
 * The namespace also has a PID namespace whose first process is the relay: when the relay
 * ends, the kernel ends Java too. The relay stops Java (SIGTERM, so that a `-dbPath` database
 * is closed cleanly) when its standard input closes — closed by `stop()`, or by this process
 * ending, even by SIGKILL — or when `unshare` is killed (`unshare` itself ignores SIGTERM
 * while it waits for its child).
 */
import { spawnSync } from 'node:child_process';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** The port DynamoDB Local listens on inside its namespace (nothing else is there). */
export const INNER_PORT = 8000;

/** The exit code of the relay when `java` cannot be started (ENOENT). */
export const JAVA_NOT_FOUND_EXIT = 127;

const UNSHARE_ARGS = ['--user', '--map-root-user', '--net', '--pid', '--fork', '--kill-child=SIGTERM'];

/**
 * The relay, run by Node inside the namespace (`node --input-type=module -e`): brings the
 * loopback interface up, starts Java (`argv`: socket path, then the Java command and its
 * arguments), and relays each connection on the Unix socket to Java's port.
 */
const RELAY = `
import { execFileSync, spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
const [socketPath, port, java, ...args] = process.argv.slice(1);
execFileSync('ip', ['link', 'set', 'lo', 'up']);
const child = spawn(java, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('error', (error) => {
  process.stderr.write('gatepass: could not start ' + java + ': ' + error.message + '\\n');
  process.exit(error.code === 'ENOENT' ? ${JAVA_NOT_FOUND_EXIT} : 1);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
const pair = (a, b) => {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
};
createServer((socket) => pair(socket, createConnection(Number(port), '127.0.0.1'))).listen(socketPath);
const end = () => child.kill('SIGTERM');
process.on('SIGTERM', end);
process.stdin.on('end', end).resume();
`;

/**
 * Whether an unprivileged network namespace can be made here (util-linux `unshare`,
 * iproute2 `ip`, user namespaces allowed): undefined if so, else why not.
 */
export function namespaceProblem(): string | undefined {
  const probe = spawnSync('unshare', [...UNSHARE_ARGS, '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `unshare: ${probe.error.message}`;
  if (probe.status !== 0) return (probe.stderr || `unshare exited with ${probe.status}`).trim().split('\n')[0];
  return undefined;
}

/** The command and arguments that run `java args…` in a namespace of its own, relayed to `socketPath`. */
export function namespacedCommand(
  socketPath: string,
  javaCommand: string,
  javaArgs: readonly string[],
): { command: string; args: string[] } {
  return {
    command: 'unshare',
    args: [
      ...UNSHARE_ARGS,
      '--',
      process.execPath,
      '--input-type=module',
      '-e',
      RELAY,
      socketPath,
      String(INNER_PORT),
      javaCommand,
      ...javaArgs,
    ],
  };
}

/** A relay listening on 127.0.0.1. */
export interface LoopbackRelay {
  readonly port: number;
  /** Lets the process exit while it listens. */
  unref(): void;
  /** Stops listening and ends the connections still open (an SDK client's kept-alive sockets). */
  close(): Promise<void>;
}

/**
 * Serves the Unix socket at `socketPath` on 127.0.0.1:`port` (0: a free port); resolves once
 * it listens.
 */
export async function serveOnLoopback(socketPath: string, port: number): Promise<LoopbackRelay> {
  const open = new Set<Socket>();
  const server: Server = createServer((client: Socket) => {
    const upstream = createConnection(socketPath);
    open.add(client);
    client.once('close', () => open.delete(client));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    unref: () => server.unref(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
