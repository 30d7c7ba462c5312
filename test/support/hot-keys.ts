import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, type GetCommandOutput, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { LeaseWrites } from '../../lambdas/core/store/lease-writes.ts';
import type { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { lambdaClient, type TestTable } from './dynamo.ts';
import { pipelineOn, requestWith } from './pipeline.ts';
import { throttleAttempts } from './throttles.ts';

/**
 * Tests of hot keys: an authorizer instance's DynamoDB client on DynamoDB Local (the Lambda's
 * retries and delay, so throttling is answered as in production) behind a simulated per-item
 * ceiling, and a load that drives instances the way clients hammer one key.
 */

/** A client as the authorizer Lambda makes it, on DynamoDB Local, behind `ceiling`. */
export function authorizerClient(ceiling: ThroughputCeiling): DynamoDBClient {
  const client = lambdaClient();
  ceiling.install(client);
  return client;
}

/** `workers` loops per pipeline, each authorizing `key` one request after another for `ms`: every answer or fault. */
export async function drive(pipelines: readonly Pipeline[], key: string, ms: number, workers = 8): Promise<(Decision | Error)[]> {
  const until = Date.now() + ms;
  const answers: (Decision | Error)[] = [];
  await Promise.all(
    pipelines.flatMap((pipeline) =>
      Array.from({ length: workers }, async () => {
        while (Date.now() < until) answers.push(await pipeline.authorize(requestWith(key)).catch((error: Error) => error));
      }),
    ),
  );
  return answers;
}

/** What a hammering met: requests allowed, denied, denied while room was left, and faults (the start of each). */
export interface Tally {
  allow: number;
  deny: number;
  error: number;
  denyWhileRoom: number;
  errors: string[];
}

/**
 * Two loops per pipeline, each authorizing `key` one request after another for 1.5 s or until
 * the quota of 80 is allowed, counting on from `allowed` (the requests allowed before); then 5
 * more each, past the quota. A denial while fewer than 70 are allowed is one with room. Answers
 * every request allowed (before and now), the tally, and how long it took.
 */
export async function hammer(
  pipelines: readonly Pipeline[],
  key: string,
  allowed: number,
): Promise<{ readonly allowed: number; readonly tally: Tally; readonly took: number }> {
  const tally: Tally = { allow: 0, deny: 0, error: 0, denyWhileRoom: 0, errors: [] };
  let total = allowed;
  const t0 = Date.now();
  const until = t0 + 1500;
  const worker = async (pipeline: Pipeline) => {
    while (Date.now() < until && total < 80) {
      const r = await pipeline.authorize(requestWith(key)).catch((e: unknown) => {
        tally.errors.push(String(e).slice(0, 120));
        return undefined;
      });
      if (r === undefined) tally.error++;
      else if (r.allow) {
        tally.allow++;
        total++;
      } else {
        tally.deny++;
        if (total < 70) tally.denyWhileRoom++;
      }
    }
    // a few more past the quota
    for (let i = 0; i < 5; i++) {
      const r = await pipeline.authorize(requestWith(key)).catch(() => undefined);
      if (r === undefined) tally.error++;
      else if (r.allow) {
        tally.allow++;
        total++;
      }
    }
  };
  await Promise.all(pipelines.flatMap((pipeline) => [worker(pipeline), worker(pipeline)]));
  return { allowed: total, tally, took: Date.now() - t0 };
}

/** Spreads a key at once: its session item names `shards` counter items (as the first throttled write would). */
export async function spreadKey(doc: DynamoDBDocumentClient, tableName: string, pk: string, shards: number): Promise<void> {
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk },
      UpdateExpression: 'SET shards = :s',
      ExpressionAttributeValues: { ':s': shards },
    }),
  );
}

/**
 * A client as the authorizer's whose next `state.throttles` writes of the session item
 * `state.pk` (its counts) are throttled, as DynamoDB throttles a hot item: the count that
 * meets two of them spreads the key. Set `state.pk` once the key exists.
 */
export function spreadingClient(state: { pk: string; throttles: number }): DynamoDBClient {
  const client = lambdaClient();
  throttleAttempts(client, (command, p) => {
    if (command !== 'UpdateItemCommand' || p !== state.pk || state.throttles === 0) return undefined;
    state.throttles--;
    return 'item';
  });
  return client;
}

/**
 * A client as the authorizer's whose next `state.throttles` spends on the counter items of
 * `state.pk` are throttled, as DynamoDB throttles hot items: the counts that meet them grow the
 * key. Set `state.pk` once the key exists.
 */
export function growingClient(state: { pk: string; throttles: number }): DynamoDBClient {
  const client = lambdaClient();
  throttleAttempts(client, (command, p) => {
    if (command !== 'UpdateItemCommand' || !p.startsWith(`${state.pk}#c`) || state.throttles === 0) return undefined;
    state.throttles--;
    return 'item';
  });
  return client;
}

/** A change that deletes a hot key's counter items: a cooling (unspent leases given back), a quota reset, a raise of the quota (to 200). */
export type CounterChange = 'cooling' | 'reset' | 'raise';

/** A key whose whole quota is leased to 8 counter items, all spent but one (#c7): what is left of the quota is on #c7 alone. */
export interface KeyLeftOnOneItem {
  /** Instance A, which spread the key. */
  readonly a: ReturnType<typeof pipelineOn>;
  readonly key: string;
  readonly keyId: string;
  readonly pk: string;
  /** Requests #c7 still holds. */
  readonly held: number;
  /** An item as it is now (a consistent read). */
  get(pk: string): Promise<GetCommandOutput['Item']>;
  /** Makes `change` as an admin (or, for a cooling, another instance) would; answers what the session item then counts. */
  change(change: CounterChange): Promise<number>;
}

/**
 * A key with a quota of 80 a day, spread by instance A's first request (its session item
 * throttled twice) over 8 counter items that lease the whole quota; then #c0–#c6 are spent to
 * their lease (their requests allowed elsewhere), and #c7 still holds its lease.
 */
export async function keyLeftOnOneItem(table: TestTable): Promise<KeyLeftOnOneItem> {
  const state = { pk: '', throttles: 2 };
  const a = pipelineOn(spreadingClient(state), table.tableName);
  const { key, keyId, pk } = await spreadAndSpend(table, a, state, 7);
  const get = (p: string) => readItem(table, p);
  const c7 = (await get(`${pk}#c7`))!;
  const change = async (kind: CounterChange): Promise<number> => {
    if (kind === 'cooling') {
      const session = (await get(pk)) as StoredSession;
      await new LeaseWrites(table.doc, table.tableName).cool(session, Date.now() + COOL_MS + 1000);
    } else if (kind === 'reset') await a.keys.resetQuota(keyId);
    else await a.keys.update(keyId, { quotaMax: 200 });
    return ((await get(pk)) as StoredSession).quotaUsed ?? 0;
  };
  return { a, key, keyId, pk, held: (c7.quotaLease as number) - (c7.quotaSpent as number), get, change };
}

/** An item as it is now (a consistent read). */
export async function readItem(table: TestTable, pk: string): Promise<GetCommandOutput['Item']> {
  return (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item;
}

/**
 * A key with a quota of 80 a day, spread by instance `a`'s first request (its client a
 * `spreadingClient(state)`: the session item throttled twice) over 8 counter items that lease
 * the whole quota; then #c0 … #c(spent − 1) are spent to their lease (their requests allowed
 * elsewhere). Throws when the key did not spread so.
 */
export async function spreadAndSpend(
  table: TestTable,
  a: ReturnType<typeof pipelineOn>,
  state: { pk: string },
  spent: number,
): Promise<{ readonly key: string; readonly keyId: string; readonly pk: string }> {
  const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
  const pk = `key#${keyId}`;
  state.pk = pk;
  const first = await a.pipeline.authorize(requestWith(key));
  const spread = (await readItem(table, pk)) as StoredSession;
  if (!first.allow || spread.shards !== 8 || spread.quotaUsed !== 80)
    throw new Error(`the key did not spread as set up: ${JSON.stringify({ first, shards: spread.shards, quotaUsed: spread.quotaUsed })}`);
  for (let i = 0; i < spent; i++)
    await table.doc.send(
      new UpdateCommand({ TableName: table.tableName, Key: { pk: `${pk}#c${i}` }, UpdateExpression: 'SET quotaSpent = quotaLease' }),
    );
  return { key, keyId, pk };
}

/** Takes `n` of #c7's lease back, and off the session item's count: `n` requests of room never leased. */
export async function unlease(table: TestTable, pk: string, n: number): Promise<void> {
  if (n === 0) return;
  const take = (key: string, attribute: string) =>
    table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk: key },
        UpdateExpression: `SET ${attribute} = ${attribute} - :n`,
        ExpressionAttributeValues: { ':n': n },
      }),
    );
  await take(`${pk}#c7`, 'quotaLease');
  await take(pk, 'quotaUsed');
}

/** The requests spent on the key's first `shards` counter items. */
export async function spentOn(table: TestTable, pk: string, shards = 8): Promise<number> {
  let spent = 0;
  for (let i = 0; i < shards; i++) spent += ((await readItem(table, `${pk}#c${i}`))?.quotaSpent as number | undefined) ?? 0;
  return spent;
}

/** Spends the key's first `shards` counter items to their leases (the session item keeps its room); items not there are left so. */
export async function spendToLeases(table: TestTable, pk: string, shards: number): Promise<void> {
  for (let i = 0; i < shards; i++)
    await table.doc
      .send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: `${pk}#c${i}` },
          UpdateExpression: 'SET quotaSpent = quotaLease',
          ConditionExpression: 'attribute_exists(pk)',
        }),
      )
      .catch(() => undefined);
}
