import { setTimeout as sleep } from 'node:timers/promises';
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GatepassError } from '../model/errors.ts';
import { TABLE } from '../model/table.ts';

/** BatchGetItem takes at most 100 keys per call. */
const BATCH_SIZE = 100;
/** Retries of keys DynamoDB left unprocessed (throttling) before failing closed. */
const MAX_UNPROCESSED_RETRIES = 5;

/**
 * Strongly consistent BatchGetItem of the items under `pks`, in chunks of 100, retrying
 * the keys DynamoDB leaves unprocessed with a short backoff. Items are keyed by `pk`;
 * absent items are simply not in the map. Used by the admin listings (never by the
 * authorizer, whose role has no BatchGetItem).
 */
export async function batchGetConsistent<T = Record<string, unknown>>(
  client: DynamoDBDocumentClient,
  table: string,
  pks: readonly string[],
): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  for (let start = 0; start < pks.length; start += BATCH_SIZE) {
    let keys: Record<string, unknown>[] = pks.slice(start, start + BATCH_SIZE).map((pk) => ({ [TABLE.partitionKey]: pk }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt > MAX_UNPROCESSED_RETRIES) {
        throw new GatepassError('ERR_STORE', `DynamoDB left ${keys.length} reads unprocessed`);
      }
      if (attempt > 0) await sleep(25 * 2 ** (attempt - 1));
      const out = await client.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of out.Responses?.[table] ?? []) found.set(String(item[TABLE.partitionKey]), item as T);
      keys = out.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return found;
}
