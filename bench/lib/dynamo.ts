/**
 * The benchmark's own DynamoDB Local (started and stopped by `run.ts`), tables on it, and
 * a document client that counts the commands it sends.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, ensureTable } from '../../local/table.ts';

/** A fresh gatepass table on `endpoint`, a plain client and a document client over it. */
export interface BenchTable {
  readonly tableName: string;
  readonly raw: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  close(): void;
}

export async function createBenchTable(endpoint: string, prefix: string): Promise<BenchTable> {
  const tableName = `bench-${prefix}-${randomUUID().slice(0, 8)}`;
  const raw = createDynamoClient(endpoint);
  await ensureTable(raw, tableName);
  // The same marshalling options as the handlers' own client (dynamo-client.ts).
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    tableName,
    raw,
    doc,
    close: () => {
      doc.destroy();
      raw.destroy();
    },
  };
}

/** Commands sent, by name (`GetItemCommand`, `UpdateItemCommand`…), and the capacity they used. */
export interface CommandCounter {
  readonly counts: Map<string, number>;
  /** Read and write capacity units DynamoDB reported (successful calls; a failed condition reports none). */
  readonly units: { read: number; write: number };
  total(): number;
  reset(): void;
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand']);

/**
 * Counts every command the client sends, once per command (the `initialize` step runs
 * before retries, so an SDK retry is not counted twice — it is one request to the caller,
 * though DynamoDB bills each attempt). It also asks for `ReturnConsumedCapacity: TOTAL` and
 * adds up the capacity units in the answers: a read of up to 4 KB is 1 read unit, a write
 * costs 1 write unit per KB of the item (the larger of before and after).
 */
export function countCommands(client: DynamoDBDocumentClient): CommandCounter {
  const counts = new Map<string, number>();
  const units = { read: 0, write: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
      if (READS.has(name)) units.read += consumed?.CapacityUnits ?? 0;
      else units.write += consumed?.CapacityUnits ?? 0;
      return result;
    },
    { step: 'initialize', name: 'benchCountCommands' },
  );
  return {
    counts,
    units,
    total: () => [...counts.values()].reduce((sum, n) => sum + n, 0),
    reset: () => {
      counts.clear();
      units.read = 0;
      units.write = 0;
    },
  };
}
