/**
 * Bugs the history checker can be run against on purpose (`GATEPASS_INJECT=<name>`), to
 * measure what it detects. Each is injected from outside the code under test — through
 * its public seams (plugins, the policy cache setting, the clock, the DynamoDB client) —
 * so the list stays valid when the counting core changes inside.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { GatepassPlugin } from '../../../lambdas/core/plugins/plugin.ts';
import { HOOK_HEADER } from './hooks.ts';
import { isFirstAttempt, lostAnswerError } from './lost-answers.ts';

export interface InjectedBug {
  readonly name: string;
  readonly what: string;
  /** Plugins every instance runs besides its own. */
  readonly plugins?: readonly GatepassPlugin[];
  /** Seconds every instance's policy cache keeps a policy beyond what the model is told. */
  readonly extraPolicyCacheSeconds?: number;
  /** Ms instance `index`'s clock runs ahead beyond its stated offset. */
  readonly clockDriftMs?: (index: number, elapsedMs: number) => number;
  /** Installed on every instance's DynamoDB client. */
  readonly installOn?: (client: DynamoDBClient) => void;
  /** Installed on the admin's DynamoDB client. */
  readonly installOnAdmin?: (client: DynamoDBClient) => void;
}

export const INJECTED_BUGS: readonly InjectedBug[] = [
  {
    name: 'quota-given-back',
    what: 'a hook that writes limits also gives the whole quota back (quotaRemaining = quotaMax)',
    plugins: [
      {
        name: 'gives-quota-back',
        async postAuth(ctx) {
          if (ctx.request.headers[HOOK_HEADER] === undefined || ctx.session.quotaMax < 0) return;
          if (ctx.session.quotaRemaining === ctx.session.quotaMax) return;
          await ctx.updateSession({ quotaRemaining: ctx.session.quotaMax });
        },
      },
    ],
  },
  {
    name: 'stale-policy-cache',
    what: 'instances keep a policy 30 s longer than policyCacheSeconds',
    extraPolicyCacheSeconds: 30,
  },
  {
    name: 'clock-drift',
    what: "instance 0's clock runs 3 s ahead of its stated offset",
    clockDriftMs: (index) => (index === 0 ? 3000 : 0),
  },
  {
    name: 'hidden-lost-answers',
    what: 'every 5th counting write of an instance loses its answer and is re-sent, and the model is not told',
    installOn: (client) => {
      let writes = 0;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (String(context.commandName) === 'UpdateItemCommand' && isFirstAttempt(args.request) && ++writes % 5 === 0) {
            throw lostAnswerError();
          }
          return result;
        },
        { step: 'deserialize', name: 'historyHiddenLostAnswers', priority: 'low', override: true },
      );
    },
  },
  {
    name: 'counter-items-kept',
    what: "a change (reset, settings write, lease tag takeover) leaves a hot key's counter items in place: their leases stay spendable",
    installOn: keepCounterItems,
    installOnAdmin: keepCounterItems,
  },
  {
    name: 'leases-carried',
    what: "every change of a hot key moves its counter items' leases to the new version, as only a change naming no limit or count may (a reset, a lowered quota too)",
    installOn: carryCounterItems,
    installOnAdmin: carryCounterItems,
  },
  {
    name: 'fill-ignores-room',
    what: "a hot key's fill takes its leases from the session item without checking that the window has room for them",
    installOn: (client) => rewriteTransactions(client, 'historyFillIgnoresRoom', dropRoomCheck),
  },
  {
    name: 'fill-count',
    what: "a hot key's fill numbers the counter item's fills from 1 (the seen item's fill + 1) instead of drawing a number: a fill held across a reset or a cooling passes for one of the item refilled since (ABA)",
    installOn: (client) => rewriteTransactions(client, 'historyFillCount', countFills),
  },
  {
    name: 'spend-past-window-end',
    what: "a hot key's spend takes a counter item's lease up to 20 s after its window ended (its window-open clause 20 s late): a rate lease spent windows after its own",
    installOn: spendPastWindowEnd,
  },
  {
    name: 'past-lives-forgotten',
    what: "no write keeps the record of a key's versions: a key created again starts at version 1, and an If-Match of the old life holds on it",
    installOnAdmin: (client) =>
      rewriteTransactions(client, 'historyPastLivesForgotten', (items) => items.filter((item) => !recordPk(item).endsWith('#past'))),
  },
  {
    name: 'ttl-record-forgotten',
    what: 'only a delete records the versions of a life (creates and changes do not): a key ended by its TTL is created again at a version its old life had',
    installOnAdmin: (client) =>
      rewriteTransactions(client, 'historyTtlRecordForgotten', (items) =>
        items.filter((item) => item.Update === undefined || !recordPk(item).endsWith('#past')),
      ),
  },
];

type TransactItem = Record<string, Record<string, unknown>>;

/** A change's transaction without its unconditioned deletes of counter items (`<pk>#c<i>`); cooling's conditioned ones stay. */
function keepCounterItems(client: DynamoDBClient): void {
  rewriteTransactions(client, 'historyCounterItemsKept', (items) =>
    items.filter((item) => {
      const remove = item.Delete;
      return remove === undefined || remove.ConditionExpression !== undefined || !/#c\d+$/.test(pkOf(remove.Key));
    }),
  );
}

/** A change's deletes of counter items made into moves of their leases to the next version (`version + 1`). */
function carryCounterItems(client: DynamoDBClient): void {
  rewriteTransactions(client, 'historyLeasesCarried', (items) =>
    items.map((item) => {
      const remove = item.Delete;
      if (remove === undefined || remove.ConditionExpression !== undefined || !/#c\d+$/.test(pkOf(remove.Key))) return item;
      return {
        Update: {
          TableName: remove.TableName,
          Key: remove.Key,
          UpdateExpression: 'SET #v = if_not_exists(#v, :zero) + :one',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
        },
      } as TransactItem;
    }),
  );
}

/**
 * A fill's session write with its room clauses (`attribute_not_exists(used) OR used <= limit - taken`)
 * made always true: the limit a lease may take up to becomes 10⁹.
 */
function dropRoomCheck(items: TransactItem[]): TransactItem[] {
  const first = items[0]?.Update;
  const condition = first?.ConditionExpression;
  if (first === undefined || typeof condition !== 'string' || items.length < 2 || items[1]?.Put === undefined) return items;
  const names = (first.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = { ...(first.ExpressionAttributeValues as Record<string, unknown>) };
  for (const [, name, value] of condition.matchAll(/attribute_not_exists\((#\w+)\) OR \1 <= (:\w+)/g)) {
    if (/Used/.test(names[name!] ?? '')) values[value!] = 1e9;
  }
  return [{ Update: { ...first, ExpressionAttributeValues: values } }, ...items.slice(1)];
}

/**
 * A fill's counter items numbered as the fills before the fix did: `fill` is the seen item's
 * `fill` (the value its condition names; none: 0) plus 1, so that an item deleted and filled
 * again from nothing counts 1, 2, … as the one deleted did.
 */
function countFills(items: TransactItem[]): TransactItem[] {
  return items.map((item) => {
    const put = item.Put;
    const row = put?.Item as Record<string, unknown> | undefined;
    if (put === undefined || row === undefined || !/#c\d+$/.test(pkOf(row)) || typeof row.fill !== 'number') return item;
    const names = (put.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = (put.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
    const name = Object.keys(names).find((n) => names[n] === 'fill');
    const seen = name === undefined ? undefined : new RegExp(`${name} = (:\\w+)`).exec(String(put.ConditionExpression ?? ''))?.[1];
    const fill = seen === undefined ? 0 : Number(values[seen]);
    return { Put: { ...put, Item: { ...row, fill: fill + 1 } } };
  });
}

/**
 * A spend's "window open" clauses (`start > :now-minus-length`) on a counter item (`<pk>#c<i>`)
 * made 20 s late: a lease stays spendable for 20 s after its window ended (a rate window is 2 or 5 s in the
 * histories, a quota window 20 s or more), while the session item leases the windows after it again.
 */
function spendPastWindowEnd(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: unknown; ConditionExpression?: string; ExpressionAttributeValues?: Record<string, unknown> };
      if (String(context.commandName) !== 'UpdateItemCommand' || !/#c\d+$/.test(pkOf(input.Key))) return next(args);
      const values = { ...input.ExpressionAttributeValues };
      for (const [, value] of String(input.ConditionExpression ?? '').matchAll(/#\w+ > (:\w+)/g)) {
        if (typeof values[value!] === 'number') values[value!] = (values[value!] as number) - 20_000;
      }
      return next({ ...args, input: { ...input, ExpressionAttributeValues: values } });
    },
    { step: 'initialize', name: 'historySpendPastWindowEnd', priority: 'low', override: true },
  );
}

/** Rewrites every TransactWriteItems `client` sends (document-client input, before it is marshalled). */
function rewriteTransactions(client: DynamoDBClient, name: string, rewrite: (items: TransactItem[]) => TransactItem[]): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TransactItems?: TransactItem[] };
      if (String(context.commandName) !== 'TransactWriteItemsCommand' || input.TransactItems === undefined) return next(args);
      return next({ ...args, input: { ...input, TransactItems: rewrite(input.TransactItems) } });
    },
    { step: 'initialize', name, priority: 'low', override: true },
  );
}

/** The partition key a transaction's write is on. */
function recordPk(item: TransactItem): string {
  const write = item.Put ?? item.Update ?? item.Delete ?? item.ConditionCheck;
  return pkOf(write?.Item ?? write?.Key);
}

function pkOf(key: unknown): string {
  const pk = (key as { pk?: unknown } | undefined)?.pk;
  return typeof pk === 'string' ? pk : String((pk as { S?: string } | undefined)?.S ?? '');
}

/** The bug `GATEPASS_INJECT` names, if any. */
export function injectedBug(name: string | undefined): InjectedBug | undefined {
  if (name === undefined || name === '') return undefined;
  const bug = INJECTED_BUGS.find((b) => b.name === name);
  if (bug === undefined) throw new Error(`GATEPASS_INJECT must be one of ${INJECTED_BUGS.map((b) => b.name).join(', ')}; got ${name}`);
  return bug;
}
