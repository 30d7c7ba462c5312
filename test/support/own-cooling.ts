import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { lambdaClient, type TestTable } from './dynamo.ts';
import { hammer, readItem, spentOn, spreadAndSpend, spreadingClient, type Tally } from './hot-keys.ts';
import { pipelineOn, requestWith } from './pipeline.ts';
import { throttle } from './throttles.ts';

/**
 * Tests of what an instance does right after its own cooling of a hot key lands (the
 * transaction that deletes counter items): what its client throttles from then on, and what
 * it and another instance do with a key it keeps only `#left` of (`leftOfFour`).
 */

/** One attempt of the client, as the throttle rule sees it. */
export interface Attempt {
  /** `GetItemCommand`, `TransactWriteItemsCommand`, … */
  readonly command: string;
  /** `Key.pk` of the attempt ('' for a transaction). */
  readonly pk: string;
  /** The attempt's input as JSON (which items a transaction names). */
  readonly input: string;
}

export interface OwnCooling {
  /** `Date.now()` when the client's cooling landed; 0 before. */
  landedAt: number;
  /** Whether a cooling that lands now is noted. @default true */
  armed: boolean;
}

/**
 * Notes when `client`'s own cooling lands, and throttles (as DynamoDB throttles an item) every
 * attempt `throttled` names, asked before each attempt is sent, with the cooling as noted so far.
 */
export function watchOwnCooling(client: DynamoDBClient, throttled: (attempt: Attempt, cooling: OwnCooling) => boolean): OwnCooling {
  const cooling: OwnCooling = { landedAt: 0, armed: true };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input?: { Key?: { pk?: { S?: string } } } }).input;
      const attempt = { command: String(context.commandName), pk: input?.Key?.pk?.S ?? '', input: JSON.stringify(input ?? {}) };
      if (throttled(attempt, cooling)) throw throttle('item');
      const out = await next(args);
      if (cooling.armed && cooling.landedAt === 0 && attempt.command === 'TransactWriteItemsCommand' && attempt.input.includes('"Delete"'))
        cooling.landedAt = Date.now();
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'ownCooling' },
  );
  return cooling;
}

/** Whether `attempt` reads the session item `pk` within `ms` of the cooling's landing. */
export function readsSessionWithin(attempt: Attempt, cooling: OwnCooling, pk: string, ms = Infinity): boolean {
  return cooling.landedAt > 0 && Date.now() - cooling.landedAt < ms && attempt.command === 'GetItemCommand' && attempt.pk === pk;
}

/** Instance A's own cooling of a key landed (8 → 4 counter items): A keeps only `#left` = 4 of it. */
export interface LeftOfFour {
  /** Instance A, whose cooling it is. */
  readonly a: ReturnType<typeof pipelineOn>;
  /** Instance B, on the same table and clock. */
  readonly b: ReturnType<typeof pipelineOn>;
  /** A's `spreadingClient` state: set `throttles` to throttle A's next writes of the session item. */
  readonly spreading: { pk: string; throttles: number };
  readonly key: string;
  readonly keyId: string;
  readonly pk: string;
  /** A's cooling as noted; no longer armed. */
  readonly cooling: OwnCooling;
  /** Requests allowed so far: those spent on the counter items, and A's request if it was allowed. */
  readonly allowed: number;
  /** What A's cooling left: whether it landed, the session item's counter items and count. */
  readonly cooled: { readonly landed: boolean; readonly afterA: number | undefined; readonly used: number | undefined };
  /** Moves both instances' clock on past the cooling time (by COOL_MS and 1 s). */
  passCoolingTime(): void;
  /**
   * Notes the session item in `run.log` (with `allowed`, the requests allowed before), then A and
   * B hammer the key (`hammer`, two loops each). Answers every request allowed, the tally, and a
   * summary of the run (`run`, the counts, the session item after) for the expectations.
   */
  hammerBoth(
    allowed: number,
    run: { readonly mode: unknown; readonly log: unknown[] },
  ): Promise<{ allowed: number; tally: Tally; summary: string }>;
}

/**
 * A key with a quota of 80 a day spread by instance A over 8 counter items, #c0–#c3 spent
 * (`spreadAndSpend`); past the cooling time, A's request meets counter items without room and
 * cools, and A's reads of the session item are throttled for 300 ms from the landing (none with
 * `readsThrottled` false: the re-read answers). B's client is `b` (a plain Lambda client unless given).
 */
export async function leftOfFour(
  table: TestTable,
  options: { readonly readsThrottled?: boolean; readonly b?: DynamoDBClient } = {},
): Promise<LeftOfFour> {
  const ms = 300;
  const readsThrottled = options.readsThrottled ?? true;
  const spreading = { pk: '', throttles: 2 };
  const client = spreadingClient(spreading);
  let nowMs = 0;
  const cooling = watchOwnCooling(client, (attempt, cooled) => readsThrottled && readsSessionWithin(attempt, cooled, spreading.pk, ms));
  const clock = () => Date.now() + nowMs;
  const a = pipelineOn(client, table.tableName, { clock });
  const b = pipelineOn(options.b ?? lambdaClient(), table.tableName, { clock });
  const { key, keyId, pk } = await spreadAndSpend(table, a, spreading, 4);
  let allowed = await spentOn(table, pk);
  const passCoolingTime = () => {
    nowMs += COOL_MS + 1000;
  };
  passCoolingTime();
  // A's request meets counter items without room and cools; its re-reads throttled.
  await a.pipeline.authorize(requestWith(key)).then((r) => r.allow && allowed++);
  await new Promise((r) => setTimeout(r, ms + 50));
  cooling.armed = false;
  const afterA = (await readItem(table, pk)) as StoredSession;
  const cooled = { landed: cooling.landedAt > 0, afterA: afterA.shards, used: afterA.quotaUsed };
  const hammerBoth = async (before: number, run: { readonly mode: unknown; readonly log: unknown[] }) => {
    const mid = (await readItem(table, pk)) as StoredSession;
    run.log.push({ mid: mid.shards, used: mid.quotaUsed, allowedBefore: before });
    const { allowed, tally, took } = await hammer([a.pipeline, b.pipeline], key, before);
    const s = (await readItem(table, pk)) as StoredSession;
    const summary = JSON.stringify({ mode: run.mode, log: run.log, allowed, tally, took, shards: s.shards, quotaUsed: s.quotaUsed });
    return { allowed, tally, summary };
  };
  return { a, b, spreading, key, keyId, pk, cooling, allowed, cooled, passCoolingTime, hammerBoth };
}
