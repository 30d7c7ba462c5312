import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransactionCanceledException, TransactionInProgressException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ContentionError, NotFoundError, VersionConflictError } from '../model/errors.ts';
import type { StoredSession, WriteGuard } from './item.ts';
import { callSignal } from './call-signal.ts';
import { isBusy } from './lease-writes.ts';

export type TransactItem = NonNullable<TransactWriteCommand['input']['TransactItems']>[number];

/** Attempts of a settings write cancelled by a conflicting request in flight on the item (not by its condition). */
export const CONFLICT_ATTEMPTS = 4;
/**
 * Attempts of a change throttled by DynamoDB (about 4 s of pauses in all): a change of a hot
 * key writes its session item and every counter item at once, each busy with requests.
 */
const THROTTLED_ATTEMPTS = 12;

/**
 * One transaction with a client request token (idempotent when re-sent). A failed
 * condition calls `failed` with the item as it is and the index of the write that failed;
 * a cancellation by a conflicting request in flight is tried again with a new token (it
 * applied nothing). A throttled send is re-sent with the *same* token: only the attempt
 * DynamoDB throttled applied nothing, and an earlier attempt of the same send may have landed
 * with its answer lost — under its token, DynamoDB answers the re-send with that success
 * instead of applying the change twice (a reset landing twice would erase what was counted
 * between the two).
 *
 * Once `signal` has aborted (by default the signal of where it is called, `call-signal.ts`: a
 * hook's write, whose request failed closed), it sends nothing more and pauses no more: it
 * throws the signal's reason at once, a pause in progress included. Without a signal, nothing
 * ends it but its answers.
 */
export async function transactOnce<Item = StoredSession>(
  client: DynamoDBDocumentClient,
  items: TransactItem[],
  failed: (current: Item | undefined, index: number) => never,
  signal: AbortSignal | undefined = callSignal(),
): Promise<void> {
  for (const item of items) (Object.values(item)[0] as Record<string, unknown>).ReturnValuesOnConditionCheckFailure = 'ALL_OLD';
  let throttled = 0;
  let token = randomUUID();
  for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
    signal?.throwIfAborted();
    try {
      await client.send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: token }));
      return;
    } catch (error) {
      signal?.throwIfAborted();
      if (mayHaveLanded(error) && ++throttled < THROTTLED_ATTEMPTS) {
        // Throttled (a hot key's items, every one needed at once), or this token's copy still in flight: the same token after a pause.
        await pause(50 * throttled * (0.5 + Math.random()), signal);
        attempt--;
        continue;
      }
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const index = reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
      if (index >= 0) {
        const item = reasons[index]!.Item;
        failed(item === undefined ? undefined : (unmarshall(item as never) as Item), index);
      }
      if (!reasons.some((reason) => reason.Code === 'TransactionConflict')) throw error;
      // Cancelled by a conflict: this token's transaction did not land (a landed copy would have been answered as such).
      token = randomUUID();
      await backOff(attempt, signal);
    }
  }
  throw new ContentionError(`a settings write met conflicting requests ${CONFLICT_ATTEMPTS} times`);
}

/**
 * An error after which the change is sent again under the same token: throttled (see
 * `isBusy`), or DynamoDB still applying an earlier copy under this token.
 */
function mayHaveLanded(error: unknown): boolean {
  return error instanceof TransactionInProgressException || isBusy(error);
}

/** A short random pause before trying a write a transaction in flight rejected (it applied nothing); see {@link pause}. */
export function backOff(attempt: number, signal?: AbortSignal): Promise<void> {
  return pause(5 * 2 ** attempt * Math.random(), signal);
}

/** A pause of `ms`; once `signal` aborts (before or during it), it ends at once, rejected with the signal's reason. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch((error: unknown) => {
    signal?.throwIfAborted(); // the reason itself, not the timer's AbortError
    throw error;
  });
}

/**
 * Sends a transaction whose first write is the session item's, with every lease revoked:
 * the session item conditioned on its number of counter items (`build` adds
 * {@link whenCounterItems}) and those items deleted.
 * When the key grew or shrank since the caller read it (its guard holding otherwise), the
 * transaction is built again for the number in force.
 */
export async function revoking(
  client: DynamoDBDocumentClient,
  guard: WriteGuard,
  build: (shards: number) => TransactItem[],
  failed?: (index: number) => void,
): Promise<void> {
  let shards = guard.shards ?? 0;
  for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
    const items = build(shards);
    let moved: number | undefined;
    await transactOnce(client, items, (current, index) => {
      failed?.(index);
      if (index === 0 && current !== undefined && holds(current, guard) && (current.shards ?? 0) !== shards) {
        moved = current.shards ?? 0;
        throw new ShardsMoved();
      }
      return conflict(current, guard);
    }).catch((error: unknown) => {
      if (!(error instanceof ShardsMoved)) throw error;
    });
    if (moved === undefined) return;
    shards = moved;
  }
  throw new ContentionError(`the key's counter items kept changing during ${CONFLICT_ATTEMPTS} attempts`);
}

/** A session item's number of counter items moved under a change: it is built again. */
class ShardsMoved extends Error {}

/** Whether `current` is still the life (and version, when the guard names one) the guard read. */
export function holds(current: StoredSession, guard: WriteGuard): boolean {
  return current.incarnation === guard.incarnation && (guard.version === undefined || current.version === guard.version);
}

/** A failed guard: gone, or changed since the read (another life of the key, or another version). */
export function conflict(current: StoredSession | undefined, guard: WriteGuard): never {
  if (current === undefined) throw new NotFoundError('no session for this key');
  if (current.incarnation !== guard.incarnation) throw new NotFoundError('the key read was deleted (and re-created since)');
  const expected = guard.version === undefined ? '' : `expected version ${guard.version}, `;
  throw new VersionConflictError(`session changed concurrently (${expected}found ${current.version})`, current);
}
