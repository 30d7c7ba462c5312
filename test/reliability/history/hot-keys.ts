/**
 * Hot keys in a history: DynamoDB's per-item throughput ceiling (local/throughput-ceiling.ts)
 * put on the instances' clients for the histories that choose it, so that a key's counting
 * writes are throttled and the key spreads over counter items by itself; and what the
 * checker reads of a spread key — its number of counter items and the leases they hold —
 * to state the model's slack (model.ts) and count what the histories exercised.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ThroughputCeiling } from '../../../local/throughput-ceiling.ts';
import type { Scope } from './settings.ts';

/** Unspent requests of the leases held for one scope, by window. */
export interface ScopeLeases {
  quota: number;
  rate: number;
}

/** A session's counter items as read: how many are in use, and the unspent leases good under its current guard. */
export interface LeaseView {
  readonly shards: number;
  /** Counter items found (some of `0 … shards - 1` may not be filled yet). */
  readonly items: number;
  readonly unspent: ReadonlyMap<Scope, ScopeLeases>;
  /** Σ unspent over every scope and window: the most a batch may fall short of the model by. */
  readonly total: number;
}

/** Read units per write unit of a history's ceiling. */
const READS_PER_WRITE_UNIT = 10;

export const NOT_SPREAD: LeaseView = { shards: 0, items: 0, unspent: new Map(), total: 0 };

/**
 * Switches the throughput ceiling of the instances' clients on (a fresh one, every item's
 * units full) and off, history by history; counts the requests it throttled.
 *
 * @example
 * const hot = new HotKeys();
 * hot.installOn(client);
 * hot.heat(3); // this history: 3 write units a second per item
 */
export class HotKeys {
  #ceiling: ThroughputCeiling | undefined;
  #throttledBefore = 0;

  /** Puts the switchable ceiling at the bottom of `client`'s stack (below the SDK's retries), as ThroughputCeiling does. */
  installOn(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        this.#ceiling?.charge(String(context.commandName), args.input);
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'historyHotKeys', override: true },
    );
  }

  /** From now on, `writeUnitsPerSecond` per item (a fresh ceiling), or no ceiling (`undefined`). */
  heat(writeUnitsPerSecond: number | undefined): void {
    this.#throttledBefore += this.#ceiling?.stats.throttled ?? 0;
    // Reads get 10 W (DynamoDB gives 3 W): every request reads the session item once, and the point is the counting writes.
    const readUnitsPerSecond = (writeUnitsPerSecond ?? 0) * READS_PER_WRITE_UNIT;
    this.#ceiling = writeUnitsPerSecond === undefined ? undefined : new ThroughputCeiling({ writeUnitsPerSecond, readUnitsPerSecond });
  }

  /** Requests (SDK attempts) throttled so far, over every history. */
  get throttled(): number {
    return this.#throttledBefore + (this.#ceiling?.stats.throttled ?? 0);
  }
}

/**
 * Reads session `pk` and its counter items `<pk>#c<i>`, i < `shards` (consistent reads, on a
 * client the ceiling is not on): the unspent requests of the leases that can still be spent
 * — taken under the session's incarnation and settings version, in the window the session
 * item is in (same start). Written from the design's description of a counter item, not
 * from the code under test.
 */
export async function readLeases(doc: DynamoDBDocumentClient, tableName: string, pk: string): Promise<LeaseView> {
  const get = async (key: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: key }, ConsistentRead: true }))).Item as
      | Record<string, unknown>
      | undefined;
  const session = await get(pk);
  const shards = typeof session?.shards === 'number' ? session.shards : 0;
  if (session === undefined || shards === 0) return NOT_SPREAD;
  const items = (await Promise.all(Array.from({ length: shards }, (_, i) => get(`${pk}#c${i}`)))).filter((i) => i !== undefined);
  const unspent = new Map<Scope, ScopeLeases>();
  let total = 0;
  for (const item of items) {
    if (item.incarnation !== (session.incarnation ?? '') || item.version !== session.version) continue;
    for (const [name, size] of Object.entries(item)) {
      const match = /^(quota|rate)Lease(?:@(.+))?$/.exec(name);
      if (match === null || typeof size !== 'number') continue;
      const [, window, api] = match as unknown as [string, 'quota' | 'rate', string | undefined];
      const suffix = api === undefined ? '' : `@${api}`;
      const spent = item[`${window}Spent${suffix}`];
      if (typeof spent !== 'number' || item[`${window}Start${suffix}`] !== session[`${window}Start${suffix}`]) continue;
      const scope: Scope = api ?? 'key';
      const leases = unspent.get(scope) ?? { quota: 0, rate: 0 };
      leases[window] += Math.max(0, size - spent);
      unspent.set(scope, leases);
      total += Math.max(0, size - spent);
    }
  }
  return { shards, items: items.length, unspent, total };
}

/** Session `pk` and its counter items as stored, one line each (for a violation's trace): counters, guard, leases. */
export async function dumpItems(doc: DynamoDBDocumentClient, tableName: string, pk: string): Promise<string[]> {
  const get = async (key: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: key }, ConsistentRead: true }))).Item as
      | Record<string, unknown>
      | undefined;
  const shown = (item: Record<string, unknown>) =>
    JSON.stringify(
      Object.fromEntries(
        Object.entries(item).filter(([name]) =>
          /^(shards|version|incarnation|leaseTag|fill|filledAt|(quota|rate)(Used|Start|Lease|Spent|Base)(@.*)?)$/.test(name),
        ),
      ),
    );
  const session = await get(pk);
  if (session === undefined) return [`${pk}: none`];
  const shards = typeof session.shards === 'number' ? session.shards : 0;
  const items = await Promise.all(Array.from({ length: shards }, (_, i) => get(`${pk}#c${i}`)));
  return [`${pk}: ${shown(session)}`, ...items.flatMap((item, i) => (item === undefined ? [] : [`  c${i}: ${shown(item)}`]))];
}
