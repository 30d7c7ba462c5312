import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AlreadyExistsError, ContentionError, NotFoundError } from '../model/errors.ts';
import { keySessionPk } from '../model/keys.ts';
import { TABLE } from '../model/table.ts';
import { UpdateExpression } from './expression.ts';
import type { KeyPointer, StoredSession, WriteGuard } from './item.ts';
import { transactOnce, type TransactItem } from './transaction.ts';

/**
 * A key's versions go on across its lives (docs/ARCHITECTURE.md, "The writes"): an item
 * beside each session (`<pk>#past`, the record) holds a version at least as high as any the
 * session has had, and a session created under the same partition key starts one above it.
 * So an `If-Match` read in one life never holds in the next: a DELETE re-sent after its
 * answer was lost finds the identity's new session at a version the old one never had (409),
 * instead of deleting it too. Every write that makes or moves a version writes the record in
 * its own transaction: a create (its version), a change (the version it moves to), a delete
 * (the last version its life can have reached). So the record is right however the session
 * ends — by a delete, or by DynamoDB's TTL, which writes nothing. It lives as long as the
 * session (its TTL follows the session's) and {@link PAST_LIFE_TTL_SECONDS} more, and is
 * never read on a request's path.
 */

/** How long the last version of a deleted life is kept (400 days): a re-send later than that may meet a new life at a version the old one had. */
export const PAST_LIFE_TTL_SECONDS = 400 * 86_400;

/** The partition key of the item holding the last version of `pk`'s deleted lives. */
export function pastLifePk(pk: string): string {
  return `${pk}#past`;
}

/** Writes of a create while lives of the same key are created and deleted under it. */
const CREATE_ATTEMPTS = 8;

/**
 * Creates a session under `pk` at one above the last version of its deleted lives (1 for a
 * first life): `build` makes the item at that version and its conditioned Put, and the Put
 * is sent with a check that the past lives are still as read. Fails with
 * {@link AlreadyExistsError} (carrying the item) when a session exists under `pk`; a life
 * created and deleted between the read and the write makes it try again above the version
 * the failed check returned (at most {@link CREATE_ATTEMPTS} writes).
 */
export async function createAbovePastLives(
  client: DynamoDBDocumentClient,
  table: string,
  pk: string,
  build: (version: number) => { item: StoredSession; put: TransactItem },
): Promise<StoredSession> {
  const read = await client.send(new GetCommand({ TableName: table, Key: { pk: pastLifePk(pk) }, ConsistentRead: true }));
  let past = versionOf(read.Item);
  for (let attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
    const { item, put } = build(past + 1);
    const record = recordOfCreate(table, pk, past, item);
    const moved = await transactOnce(client, [put, record], (current, index) => {
      if (index === 0) throw new AlreadyExistsError('a session already exists for this key', current);
      throw new PastLifeMoved(versionOf(current));
    }).then(
      () => undefined,
      (error: unknown) => {
        if (error instanceof PastLifeMoved) return error.version;
        throw error;
      },
    );
    if (moved === undefined) return item;
    // Tried again on the record as the failed check returned it: no read in between.
    past = moved;
  }
  throw new ContentionError(`lives of the key kept being created and deleted during ${CREATE_ATTEMPTS} attempts`);
}

/** The last version a record holds (0: none). */
function versionOf(record: unknown): number {
  const version = (record as { version?: unknown } | undefined)?.version;
  return typeof version === 'number' ? version : 0;
}

/** A life was created and deleted since the create read the past lives: `version` is on the record now. */
class PastLifeMoved extends Error {
  constructor(readonly version: number) {
    super('the past lives moved');
  }
}

/** The write of a delete's transaction that records the last version of the life it deletes. */
export function pastLifePut(table: string, pk: string, lastVersion: number, now: number): TransactItem {
  return {
    Put: { TableName: table, Item: { pk: pastLifePk(pk), version: lastVersion, [TABLE.ttlAttribute]: now + PAST_LIFE_TTL_SECONDS } },
  };
}

/**
 * The end of rotated-in keys' ids: deletes of the pointers at `pointerPks` that point at
 * `sessionPk` (any other item there is left alone), each with the last version read through
 * it (`lastVersion`) recorded beside it, so a raw key imported again under its id starts above.
 */
export function pointerEnds(
  table: string,
  sessionPk: string,
  pointerPks: readonly string[],
  lastVersion: number,
  now: number,
): TransactItem[] {
  return pointerPks.flatMap((pointerPk) => {
    const x = new UpdateExpression();
    x.when(
      'a pointer to this session, or nothing',
      `attribute_not_exists(${x.name('pk')}) OR ${x.name('sessionPk')} = ${x.value(sessionPk)}`,
    );
    return [{ Delete: { TableName: table, Key: { pk: pointerPk }, ...x.build() } }, pastLifePut(table, pointerPk, lastVersion, now)];
  });
}

/**
 * A delete's hold on the keys rotated into the session as it read them (`keyIds`; none: never
 * rotated): its condition `x` names them, so a rotation landing since refuses it, and the
 * pointers they have are ended with it (see {@link pointerEnds}).
 */
export function keysAsRead(
  x: UpdateExpression,
  table: string,
  pk: string,
  keyIds: Readonly<Record<string, number>> | undefined,
  lastVersion: number,
  now: number,
): TransactItem[] {
  x.when('the keys read', keyIds === undefined ? `attribute_not_exists(${x.name('keyIds')})` : `${x.name('keyIds')} = ${x.value(keyIds)}`);
  const pointers = Object.keys(keyIds ?? {})
    .map(keySessionPk)
    .filter((pointerPk) => pointerPk !== pk);
  return pointerEnds(table, pk, pointers, lastVersion, now);
}

/**
 * The record's write in a create's transaction: on condition that the past lives are as the
 * create read them (none, or the same last version), so that no life created and deleted
 * meanwhile shares its versions, it takes the new life's version and TTL.
 */
function recordOfCreate(table: string, pk: string, seen: number, item: StoredSession): TransactItem {
  const x = new UpdateExpression();
  x.when(
    'no life deleted since the read',
    seen === 0 ? `attribute_not_exists(${x.name('pk')})` : `${x.name('version')} = ${x.value(seen)}`,
  );
  x.set('version', item.version);
  recordTtl(x, (item as unknown as Record<string, number | undefined>)[TABLE.ttlAttribute] ?? null);
  return { Update: { TableName: table, Key: { pk: pastLifePk(pk) }, ...x.build() } as TransactItem['Update'] };
}

/**
 * The record's write in a change's transaction: the version the change moves the session
 * to — one above the guard's, or, for a change that names none (a reset), one above the
 * record's own, which holds the session's — and the TTL the change gives the session
 * (`sessionTtl`: `null` none, `undefined` left as it is). A session created before records
 * were kept gets its record from its first change that names a version.
 */
export function recordOfChange(table: string, pk: string, guard: WriteGuard, sessionTtl: number | null | undefined): TransactItem {
  const x = new UpdateExpression();
  if (guard.version !== undefined) x.set('version', guard.version + 1);
  else x.setTo('version', `if_not_exists(${x.name('version')}, ${x.value(0)}) + ${x.value(1)}`);
  if (sessionTtl !== undefined) recordTtl(x, sessionTtl);
  return { Update: { TableName: table, Key: { pk: pastLifePk(pk) }, ...x.build() } as TransactItem['Update'] };
}

/** The record outlives a session with a TTL by {@link PAST_LIFE_TTL_SECONDS}; one without lives as long as it. */
function recordTtl(x: UpdateExpression, sessionTtl: number | null): void {
  if (sessionTtl === null) x.remove(TABLE.ttlAttribute);
  else x.set(TABLE.ttlAttribute, sessionTtl + PAST_LIFE_TTL_SECONDS);
}

/**
 * Ends a rotated-in key's pointer that outlived its session (the session ended by its TTL,
 * which writes nothing, or was created again since without this key): the pointer goes, with
 * its record at the version the session's record holds — at least every version read through
 * it — so a key imported under its id starts above. On condition that the session still does
 * not name the key (else {@link NotFoundError}: read it again).
 */
export async function endOrphanPointer(client: DynamoDBDocumentClient, table: string, pointer: KeyPointer, now: number): Promise<void> {
  const read = await client.send(new GetCommand({ TableName: table, Key: { pk: pastLifePk(pointer.sessionPk) }, ConsistentRead: true }));
  const x = new UpdateExpression();
  x.when(
    'the session does not name the key',
    `attribute_not_exists(${x.name('pk')}) OR attribute_not_exists(${x.name('keyIds')}.${x.name(pointer.keyId)})`,
  );
  const check = { ConditionCheck: { TableName: table, Key: { pk: pointer.sessionPk }, ...x.build() } as TransactItem['ConditionCheck'] };
  await transactOnce(client, [check, ...pointerEnds(table, pointer.sessionPk, [pointer.pk], versionOf(read.Item), now)], () => {
    throw new NotFoundError('the key moved since it was read: read it again');
  });
}
