import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { startDynamoDbLocal } from '../../local/dynamodb-local.ts';
import { createDynamoClient } from '../../local/table.ts';

const repoRoot = join(import.meta.dirname, '../..');

/** Local addresses listening on TCP `port` (hex from /proc/net/tcp{,6}: 0100007F is 127.0.0.1). */
async function listening(port: number): Promise<string[]> {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(file, 'utf8')).split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local !== undefined && Number.parseInt(local.split(':')[1]!, 16) === port) found.push(local.split(':')[0]!);
    }
  }
  return found;
}

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

describe('DynamoDB Local in a network namespace of its own', { timeout: 120_000 }, () => {
  it('answers on 127.0.0.1 only, and leaves no process or port behind once stopped', async () => {
    const db = await startDynamoDbLocal({ isolate: true });
    const client = createDynamoClient(db.endpoint);
    try {
      expect(db.isolated).toBe(true);
      expect(db.isolationProblem).toBeUndefined();
      expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
      expect(await listening(db.port)).toEqual(['0100007F']);
    } finally {
      client.destroy();
      await db.stop();
    }
    expect(() => process.kill(db.pid, 0)).toThrow(/ESRCH/);
    expect(await refused(db.port)).toBe(true);
  });

  it('ends Java when the process that started it is killed (SIGKILL: no clean-up of its own)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatepass-orphan-'));
    try {
      const script = join(dir, 'script.mts');
      await writeFile(
        script,
        `const { startDynamoDbLocal } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'local/dynamodb-local.ts')).href)});
         const db = await startDynamoDbLocal({ isolate: true });
         console.log(JSON.stringify({ pid: db.pid, port: db.port }));
         setInterval(() => undefined, 1000);`,
      );
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] });
      const started = await new Promise<{ pid: number; port: number }>((resolve) =>
        child.stdout.once('data', (chunk) => resolve(JSON.parse(String(chunk)) as { pid: number; port: number })),
      );
      expect(() => process.kill(started.pid, 0)).not.toThrow();

      child.kill('SIGKILL');

      let gone = false;
      for (let i = 0; i < 100 && !gone; i += 1) {
        await sleep(100);
        try {
          process.kill(started.pid, 0);
        } catch {
          gone = true;
        }
      }
      expect(gone).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says why, and starts as before, where no namespace can be made', async () => {
    // A PATH with node and java but no unshare.
    const bin = await mkdtemp(join(tmpdir(), 'gatepass-nounshare-'));
    try {
      await symlink(process.execPath, join(bin, 'node'));
      await symlink('/usr/bin/java', join(bin, 'java'));
      const script = join(bin, 'script.mts');
      await writeFile(
        script,
        `const { startDynamoDbLocal } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'local/dynamodb-local.ts')).href)});
         const db = await startDynamoDbLocal({ isolate: true });
         console.log(JSON.stringify({ isolated: db.isolated, problem: db.isolationProblem }));
         await db.stop();`,
      );
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
        cwd: repoRoot,
        env: { ...process.env, PATH: bin },
        timeout: 60_000,
      });
      expect(JSON.parse(stdout)).toEqual({ isolated: false, problem: expect.stringMatching(/^unshare: .*ENOENT/) });
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});
