import type { CounterScope } from '../limits/scope.ts';
import { FIRST_COUNTER_ITEMS, MAX_COUNTER_ITEMS, type LeaseWindow } from './counter-items.ts';
import { planFills, type SessionView } from './fills.ts';
import type { StoredSession } from './item.ts';
import { byTime, LATE, type LeaseMemory, type OncePerKey } from './lease-memory.ts';
import { type Cooling, isBusy, type LeaseWrites } from './lease-writes.ts';

/**
 * How a hot key gets more counter items (docs/ARCHITECTURE.md, "Hot keys"): when it spreads
 * (its session item throttled) and when it grows (two of its counter items throttled in one
 * request, and new ones could be filled); and fewer, when it cools.
 */

/**
 * Attempts of the write that spreads a key (its session item is throttled when it is needed: the key has nowhere else to
 * count): tried until the decision's budget ends (`until`: about 15 attempts in its 1.75 s), at most 20.
 */
export const SPREAD_ATTEMPTS = 20;
/** How long before its step limit a spread's last attempt comes: the count after a spread that lands there still has steps. */
export const LANDING_MS = 150;
/** Attempts of the write that grows a spread key: its requests count on the items it has meanwhile, and the next two throttled try again. */
const GROW_ATTEMPTS = 2;

/** The counter items in force after a growth; `'gone'`: the key was deleted; `undefined`: its session item stayed throttled. */
export type Grown = number | 'gone' | undefined;

/**
 * Spreads a key's counters over more counter items: `FIRST_COUNTER_ITEMS` for a key that
 * counted on its session item, else twice as many (at most `MAX_COUNTER_ITEMS`). One
 * UpdateItem conditioned on `shards` as the growth saw it, tried again after a short pause while the
 * session item is throttled (no pause past `until` less {@link LANDING_MS}, a `performance.now()` time); returns the
 * number in force after it, `'gone'` when the key no longer exists (deleted meanwhile: an
 * answer, not a fault), or `undefined` when the session item stayed throttled. What was
 * added is remembered in `memory` (filled blind).
 */
export async function grow(writes: LeaseWrites, memory: LeaseMemory, pk: string, from: number, until = Infinity): Promise<Grown> {
  const to = from === 0 ? FIRST_COUNTER_ITEMS : Math.min(MAX_COUNTER_ITEMS, from * 2);
  if (to <= from) return from;
  const attempts = from === 0 ? SPREAD_ATTEMPTS : GROW_ATTEMPTS;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const outcome = await writes.raiseShards(pk, from, to);
    if (outcome === 'ok') {
      memory.added(pk, from, to);
      return to;
    }
    if (outcome !== 'busy') return memory.saw(pk, outcome.current).item?.shards ?? (outcome.current === undefined ? 'gone' : 0);
    // No pause ends past `until` less LANDING_MS, and each is followed by an attempt: a throttle that ends by then is
    // tried after it, and the count that follows has time for its steps.
    const left = until - LANDING_MS - performance.now();
    if (left <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, 15 * attempt * (0.5 + Math.random()))));
  }
  return undefined;
}

/**
 * Spreads a key that counts on its session item, once per instance at a time (`spreading`), with no pause past `until`
 * less {@link LANDING_MS}. A request that finds another's spread running waits for it as long as its own spread would
 * pause, then tries the write once itself (the spread it waited on may be in a pause past that); one whose joined
 * spread gave up earlier (at that request's own, earlier limit) spreads on itself until its own.
 */
export async function spreadOnce(
  writes: LeaseWrites,
  memory: LeaseMemory,
  spreading: OncePerKey<Grown>,
  pk: string,
  until: number,
): Promise<Grown> {
  const joined = spreading.running(pk);
  if (joined !== undefined) {
    const shards = await byTime(joined, until - LANDING_MS);
    if (shards !== LATE && shards !== undefined) return shards;
    // The spread it joined gave up at its own step limit, earlier than this request's, or still pauses at this one's:
    // this request spreads on itself until its own limit, or tries once at it.
    return performance.now() < until - LANDING_MS
      ? spreadOnce(writes, memory, spreading, pk, until)
      : grow(writes, memory, pk, 0, performance.now());
  }
  return spreading.run(pk, async () => {
    memory.heat(pk);
    const shards = await grow(writes, memory, pk, 0, until);
    if (typeof shards === 'number' && shards > 0) memory.spread(pk);
    return shards;
  });
}

/** What a growth is judged on: the request's windows, the key's counter items, and its time. */
export interface GrowthContext {
  readonly scope: CounterScope;
  readonly windows: readonly LeaseWindow[];
  readonly shards: number;
  readonly nowMs: number;
}

/**
 * Whether new counter items could be filled (else growing only adds empty ones, and requests
 * that try three of them are denied while the old ones still hold leases), judged on the
 * session item as seen moments ago or, failing that, as read now: growth is rare, and its
 * read is the one that keeps a fully leased key from growing. A throttled read says no (the
 * next two throttled spends ask again). Returns the view judged on, which the request goes
 * on with (the session item may be gone: `item` undefined).
 */
export async function roomToGrow(
  writes: LeaseWrites,
  memory: LeaseMemory,
  pk: string,
  session: SessionView,
  at: GrowthContext,
): Promise<{ readonly room: boolean; readonly session: SessionView }> {
  let view = session;
  if (!view.current && view.fresh !== true) {
    try {
      view = memory.saw(pk, await writes.get(pk));
    } catch (error) {
      if (isBusy(error)) return { room: false, session };
      throw error;
    }
  }
  if (view.item === undefined) return { room: false, session: view };
  const plan = planFills(
    view,
    at.scope,
    at.windows,
    at.shards,
    () => true,
    () => undefined,
    at.nowMs,
  );
  return { room: typeof plan === 'object', session: view };
}

/**
 * Cools the key if the session item, read now, says so (see `LeaseWrites.cool`); a throttled
 * read or write leaves it for later. The counter items left are then empty, and this
 * instance fills them blind, as after spreading. A cooling that may have landed (a busy
 * answer) leaves this instance's view of the session item forgotten, as one that landed
 * leaves it read again (or, that read failing, forgotten but for the number of counter items
 * left): the item seen before it no longer has its counts.
 */
export async function cool(writes: LeaseWrites, memory: LeaseMemory, pk: string, nowMs: number): Promise<Cooling> {
  let session: StoredSession | undefined;
  try {
    session = memory.saw(pk, await writes.get(pk)).item;
  } catch (error) {
    if (isBusy(error)) return 'kept';
    throw error;
  }
  const cooling = await writes.cool(session, nowMs).catch((error: unknown) => {
    if (isBusy(error)) return 'kept' as const; // its reads of the counter items: nothing written
    throw error;
  });
  if (cooling === 'kept') return cooling;
  const left = Math.floor((session?.shards ?? 0) / 2);
  if (cooling === 'cooled') memory.added(pk, 0, left);
  // The item read before no longer has its counts ("no room" on it would deny): read again, or forgotten — a cooling that
  // landed keeping only the number of counter items it left.
  try {
    memory.saw(pk, await writes.get(pk));
  } catch {
    if (cooling === 'cooled') memory.cooled(pk, left);
    else memory.saw(pk, undefined);
  }
  return cooling;
}
