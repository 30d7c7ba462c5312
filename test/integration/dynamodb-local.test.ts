import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  ConditionalCheckFailedException,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TABLE_NAME, TABLE } from '../../lambdas/core/model/table.ts';
import { DynamoDbLocalError, JavaNotFoundError, startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.ts';
import { createDynamoClient, ensureTable } from '../../local/table.ts';
import { countItems, createTestTable, dynamoEndpoint, scanAll, type TestTable } from '../support/dynamo.ts';

const execFileAsync = promisify(execFile);
const repoRoot = join(import.meta.dirname, '../..');
const launcherUrl = pathToFileURL(join(repoRoot, 'local/dynamodb-local.ts')).href;

/** True while `pid` is a live process (a zombie awaiting its reaper counts as dead). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; the name before it is in parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

/** Polls until `pid` is gone; returns whether it went (bounded, so a failure cannot hang). */
async function waitUntilGone(pid: number, maxWaitMs = 10_000): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < maxWaitMs; await sleep(50)) {
    if (!isAlive(pid)) return true;
  }
  return !isAlive(pid);
}

/** Live processes running DynamoDBLocal.jar with `-port <port>` (read from /proc; empty without it). */
function dynamoDbLocalsOnPort(port: number): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  return pids.map(Number).filter((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('-port');
      return args.some((arg) => arg.endsWith('DynamoDBLocal.jar')) && at >= 0 && args[at + 1] === String(port) && isAlive(pid);
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** Runs a TypeScript module in a fresh Node.js process (via tsx) and returns its stdout. */
async function runScript(source: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatepass-launcher-test-'));
  try {
    const file = join(dir, 'script.mts');
    await writeFile(file, source);
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', file], {
      cwd: repoRoot,
      env,
      timeout: 30_000,
    });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('ensureTable on the test run’s DynamoDB Local', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('launcher');
  });
  afterAll(async () => {
    await table?.drop();
  });

  it('creates the gatepass table with the alias and kind indexes (keys only) and TTL on `ttl`', async () => {
    const { Table } = await table.client.send(new DescribeTableCommand({ TableName: table.tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([{ AttributeName: TABLE.partitionKey, KeyType: 'HASH' }]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const indexes = [...(Table?.GlobalSecondaryIndexes ?? [])].sort((a, b) => a.IndexName!.localeCompare(b.IndexName!));
    expect(indexes).toHaveLength(2);
    expect(indexes[0]).toMatchObject({
      IndexName: TABLE.aliasIndex.name,
      KeySchema: [{ AttributeName: TABLE.aliasIndex.partitionKey, KeyType: 'HASH' }],
      Projection: { ProjectionType: 'KEYS_ONLY' },
      IndexStatus: 'ACTIVE',
    });
    expect(indexes[1]).toMatchObject({
      IndexName: TABLE.kindIndex.name,
      KeySchema: [
        { AttributeName: TABLE.kindIndex.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.kindIndex.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
      IndexStatus: 'ACTIVE',
    });

    const { TimeToLiveDescription } = await table.client.send(new DescribeTimeToLiveCommand({ TableName: table.tableName }));
    expect(TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: TABLE.ttlAttribute });
  });

  it('answers exists when the table is already there', async () => {
    await expect(ensureTable(table.client, table.tableName)).resolves.toBe('exists');
  });

  it('creates the table exactly once when called concurrently', async () => {
    const tableName = `race-${randomUUID()}`;
    try {
      const results = await Promise.all([1, 2, 3].map(() => ensureTable(table.client, tableName)));
      expect(results.filter((result) => result === 'created')).toHaveLength(1);
      expect(results.filter((result) => result === 'exists')).toHaveLength(2);
    } finally {
      await table.client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    }
  });

  it('reads its own write with a consistent GetItem', async () => {
    const pk = `key#${randomUUID()}`;
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk, version: 1, alias: 'a' } }));

    const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }));

    expect(Item).toEqual({ pk, version: 1, alias: 'a' });
  });

  it('returns the new item on a successful conditional update', async () => {
    const pk = `key#${randomUUID()}`;
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk, quotaRemaining: 2, version: 1 } }));

    const { Attributes } = await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk },
        UpdateExpression: 'SET quotaRemaining = quotaRemaining - :one, version = version + :one',
        ConditionExpression: 'quotaRemaining > :zero',
        ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
        ReturnValues: 'ALL_NEW',
      }),
    );

    expect(Attributes).toEqual({ pk, quotaRemaining: 1, version: 2 });
  });

  it('returns the old item, raw, on the ConditionalCheckFailedException (ALL_OLD)', async () => {
    const pk = `key#${randomUUID()}`;
    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk, quotaRemaining: 0, version: 7 } }));

    const failure = await table.doc
      .send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk },
          UpdateExpression: 'SET quotaRemaining = quotaRemaining - :one',
          ConditionExpression: 'quotaRemaining > :zero',
          ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );

    expect(failure).toBeInstanceOf(ConditionalCheckFailedException);
    // Raw AttributeValues even through the DocumentClient.
    expect((failure as ConditionalCheckFailedException).Item).toEqual({
      pk: { S: pk },
      quotaRemaining: { N: '0' },
      version: { N: '7' },
    });
    const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }));
    expect(Item?.quotaRemaining).toBe(0);
  });
});

describe('test support helpers', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('helpers');
  });
  afterAll(async () => {
    await table?.drop();
  });

  it('gives each table a unique name with the prefix', async () => {
    const other = await createTestTable('helpers');
    try {
      expect(other.tableName).not.toBe(table.tableName);
      expect(other.tableName).toMatch(/^helpers-[0-9a-f-]{36}$/);
    } finally {
      await other.drop();
    }
  });

  it('counts and lists items, starting from an empty table', async () => {
    expect(await countItems(table.tableName)).toBe(0);
    expect(await scanAll(table.tableName)).toEqual([]);

    await table.doc.send(new PutCommand({ TableName: table.tableName, Item: { pk: 'policy#free', rate: 5 } }));

    expect(await countItems(table.tableName)).toBe(1);
    expect(await scanAll(table.tableName)).toEqual([{ pk: 'policy#free', rate: 5 }]);
  });

  it('shares one database between all credentials and regions (-sharedDb)', async () => {
    // DynamoDB Local rejects access key ids with anything but letters and digits.
    const client = new DynamoDBClient({
      endpoint: table.endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'someoneElse', secretAccessKey: 'x' },
    });
    try {
      const { TableNames } = await client.send(new ListTablesCommand({}));
      expect(TableNames).toContain(table.tableName);
    } finally {
      client.destroy();
    }
  });

  it('exposes the endpoint to SDK clients built without one (AWS_ENDPOINT_URL_DYNAMODB)', async () => {
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(dynamoEndpoint());
    // Region and credentials come from vitest's env; -sharedDb makes the table visible anyway.
    const client = new DynamoDBClient({});
    try {
      const { TableNames } = await client.send(new ListTablesCommand({}));
      expect(TableNames).toContain(table.tableName);
    } finally {
      client.destroy();
    }
  });
});

// Each test starts its own JVM: slow on a loaded machine, so a generous budget.
describe('startDynamoDbLocal', { timeout: 120_000 }, () => {
  it('starts an instance that answers, and stop() ends the java process and frees the port', async () => {
    const lines: string[] = [];
    const db = await startDynamoDbLocal({ log: (line) => lines.push(line) });
    let stopped = false;
    try {
      expect(db.endpoint).toBe(`http://127.0.0.1:${db.port}`);
      expect(isAlive(db.pid)).toBe(true);
      expect(lines.join('\n')).toContain(`Port:\t${db.port}`);
      const client = createDynamoClient(db.endpoint);
      await expect(ensureTable(client, DEFAULT_TABLE_NAME)).resolves.toBe('created');
      client.destroy();

      await db.stop();
      stopped = true;

      expect(isAlive(db.pid)).toBe(false);
      expect(dynamoDbLocalsOnPort(db.port)).toEqual([]);
      await expect(db.stop()).resolves.toBeUndefined(); // idempotent
    } finally {
      if (!stopped) await db.stop();
    }
  });

  it('keeps tables across restarts when given a dataDir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatepass-data-'));
    let db: DynamoDbLocal | undefined;
    try {
      db = await startDynamoDbLocal({ dataDir });
      const first = createDynamoClient(db.endpoint);
      await expect(ensureTable(first, 'persisted')).resolves.toBe('created');
      first.destroy();
      await db.stop();

      db = await startDynamoDbLocal({ dataDir });
      const second = createDynamoClient(db.endpoint);
      await expect(ensureTable(second, 'persisted')).resolves.toBe('exists');
      second.destroy();
    } finally {
      await db?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('rejects with JavaNotFoundError when the java command does not exist', async () => {
    const start = startDynamoDbLocal({ javaCommand: 'gatepass-no-such-java' });

    await expect(start).rejects.toBeInstanceOf(JavaNotFoundError);
    await expect(start).rejects.toMatchObject({ code: 'ERR_JAVA_NOT_FOUND' });
  });

  it('rejects with JavaNotFoundError when PATH has no java', async () => {
    const stdout = await runScript(
      `const { startDynamoDbLocal } = await import(${JSON.stringify(launcherUrl)});
       await startDynamoDbLocal().then(
         (db) => db.stop().then(() => console.log('started')),
         (error) => console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message })),
       );`,
      { ...process.env, PATH: '/nonexistent' },
    );

    expect(JSON.parse(stdout)).toEqual({
      name: 'JavaNotFoundError',
      code: 'ERR_JAVA_NOT_FOUND',
      message:
        'DynamoDB Local needs Java 17+: `java` was not found on PATH. On Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless (or use a running DynamoDB: --dynamodb-endpoint URL)',
    });
  });

  it('rejects with the process’s stderr when it exits during start-up', async () => {
    // Node.js refuses java's options and exits at once: a stand-in for a JVM that fails.
    const start = startDynamoDbLocal({ javaCommand: process.execPath });

    await expect(start).rejects.toBeInstanceOf(DynamoDbLocalError);
    await expect(start).rejects.toMatchObject({
      code: 'ERR_DYNAMODB_LOCAL_EXITED',
      message: expect.stringContaining('bad option'),
    });
  });

  it('rejects when the requested port is taken, instead of talking to whatever holds it', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, resolve));
    const { port } = server.address() as { port: number };
    try {
      await expect(startDynamoDbLocal({ port })).rejects.toMatchObject({ code: 'ERR_DYNAMODB_LOCAL_PORT_IN_USE' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('kills java when the parent process exits without calling stop()', async () => {
    // The script neither stops DynamoDB Local nor exits explicitly: it must still end by
    // itself (the child does not hold the event loop) and take java down with it.
    const stdout = await runScript(
      `const { startDynamoDbLocal } = await import(${JSON.stringify(launcherUrl)});
       const db = await startDynamoDbLocal();
       console.log(JSON.stringify({ pid: db.pid, port: db.port }));`,
    );
    const { pid, port } = JSON.parse(stdout) as { pid: number; port: number };

    expect(await waitUntilGone(pid)).toBe(true);
    // Not "nothing answers on the port": once java is gone, a parallel test may be given the
    // same port. What must be gone is every DynamoDB Local started for it.
    expect(dynamoDbLocalsOnPort(port)).toEqual([]);
  });
});
