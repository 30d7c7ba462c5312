import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Whether the child and its output pipes keep the event loop alive. */
export function setRef(child: ChildProcess, ref: boolean): void {
  // The pipes are net.Sockets at runtime, typed as plain Readables.
  type Refable = { ref?: () => void; unref?: () => void };
  for (const handle of [child, child.stdout as Refable | null, child.stderr as Refable | null]) {
    if (ref) handle?.ref?.();
    else handle?.unref?.();
  }
}

/** Sends every output line to `log`, and stderr lines to `onStderr` too. */
export function forwardLines(child: ChildProcess, log: ((line: string) => void) | undefined, onStderr: (line: string) => void): void {
  // Always read both pipes: a full pipe would block the java process.
  if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => log?.(line));
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      onStderr(line);
      log?.(line);
    });
  }
}
