import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CountPlan } from '../limits/limits.ts';
import type { CounterScope } from '../limits/scope.ts';
import { countAgain, type CountResult } from './count-write.ts';
import {
  cooled,
  leaseHasRoom,
  leaseWindows,
  lessUnspent,
  MAX_COUNTER_ITEMS,
  ofLife,
  pick,
  type CounterItem,
  type LeaseWindow,
  MAX_FILLED,
  MAX_STEPS,
} from './counter-items.ts';
import { Empties, sameItem } from './empties.ts';
import { countersSeenOn, planFills, type SessionView } from './fills.ts';
import { cool, grow, roomToGrow, spreadOnce, type Grown } from './growth.ts';
import { guardOf, withCountsOf, type StoredSession } from './item.ts';
import { LeaseMemory, OncePerKey } from './lease-memory.ts';
import { olderTag } from './lease-tag.ts';
import { type Cooling, isBusy, LeaseWrites, pause } from './lease-writes.ts';
import { counterItemTtl } from './session-ttl.ts';

/**
 * Counting on a hot key's counter items (docs/ARCHITECTURE.md, "Hot keys"): a spend on one
 * chosen at random; a fill (a lease from the session item) when it has no room; the session
 * item as read, to be decided on, when that has no room either.
 */
export class Leases {
  readonly #writes: LeaseWrites;
  /** What this instance remembers of its hot keys. */
  readonly #memory = new LeaseMemory();
  /** Fills in flight in this instance, by key: the counter items each leaves for other requests. */
  readonly #filling = new Map<string, Promise<number[]>>();
  readonly #cooling = new OncePerKey<Cooling>();
  readonly #spreading = new OncePerKey<Grown>();
  /** Seconds an expired key's session is kept, its counter items as long: a fill's TTL follows the `expires` decided on. */
  readonly #retention: number;

  constructor(client: DynamoDBDocumentClient, table: string, retentionSeconds: number) {
    this.#writes = new LeaseWrites(client, table);
    this.#retention = retentionSeconds;
  }

  /**
   * Counts one request of `known` (the session as the request decided on it: settings,
   * `shards`) in `scope` as `plan` says, under lease tag `tag`. A fill is planned on what
   * this instance last saw of the session item (its condition checks the rest: a failed one
   * returns the item as it is); counter items found throttled are left for others, and two
   * in one request double the key's counter items. No step starts past `until` (a
   * `performance.now()` time: the decision's budget).
   */
  async count(known: StoredSession, scope: CounterScope, plan: CountPlan, tag: string, until = Infinity): Promise<CountResult> {
    const guard = guardOf(known);
    const windows = leaseWindows(scope, plan);
    const { nowMs } = plan;
    const pk = known.pk;
    const ttl = counterItemTtl(pk, known.expires, this.#retention);
    // A session item seen moments ago may deny (as a repeated denial would); an older one only plans.
    let session: SessionView = this.#memory.hint(pk, guard);
    let shards = known.shards ?? 0;
    let refill: { index: number; seen: CounterItem | undefined } | undefined;
    const busy = new Set<number>();
    let throttled = 0;
    let coolTried = false;
    /** Counter items another request of this instance just filled: spent on first. */
    const prefer: number[] = [];
    /** The counter items seen without room since `session` was seen: a denial's evidence (see `Empties`). */
    const empties = new Empties();
    /** The counter items the view names: only they are evidence against it. */
    const viewShards = () => session.item?.shards ?? shards;
    /**
     * A new view of the session item: counter items seen empty before it say nothing about it, and are tried again. One
     * read now sets the counter items drawn from; the key gone, or counting on its session item again, ends the count.
     */
    const newView = (next: SessionView): CountResult | undefined => {
      for (const index of empties.viewed()) busy.delete(index);
      session = next;
      if (!next.current) return undefined;
      if (next.item === undefined) return { ok: false, current: undefined };
      shards = next.item.shards ?? 0;
      for (const index of busy) if (index >= shards) busy.delete(index); // no longer the key's (a cooling)
      return shards === 0 ? { ok: false, current: next.item } : undefined;
    };
    /** The session item read now as the new view: a result when the count ends there (gone, unspread, reads busy). */
    const readView = async (): Promise<CountResult | undefined> => {
      const now = await this.#read(pk);
      return now === 'busy' ? countAgain(known, shards) : newView(now);
    };
    for (let step = 0; step < MAX_STEPS && shards > 0 && performance.now() < until; step++) {
      let index: number;
      let seen: CounterItem | undefined;
      /** This step's counter item was taken for empty from this instance's memory, not seen. */
      let unseen = false;
      if (refill !== undefined && refill.index < shards) ({ index, seen } = refill);
      else {
        index = prefer.pop() ?? pick(shards, busy);
        // A counter item this instance has just added does not exist yet: filled blind, never spent on first (that
        // spend could only fail, and each failed write uses the item's units).
        unseen = this.#memory.addedOf(pk).has(index);
        if (!unseen) {
          const spend = await this.#writes.spend(pk, index, guard, tag, windows, nowMs);
          if (spend === 'throttled' || spend === 'conflict') {
            busy.add(index);
            // Two throttled double the counter items — unless those this instance added last are unfilled, or no room to lease.
            if (spend === 'throttled' && ++throttled === 2 && shards < MAX_COUNTER_ITEMS && !this.#memory.unfilled(pk, shards)) {
              const judged = await roomToGrow(this.#writes, this.#memory, pk, session, { scope, windows, shards, nowMs });
              // The item read to judge is the request's view, with the counter items it names (a cooling may have halved
              // them; another instance's growth doubled them: the throttles seen were among fewer, no ground to grow).
              const throttledAmong = shards;
              const ended = judged.session === session ? undefined : newView(judged.session);
              if (ended !== undefined) return ended;
              const grown =
                judged.room && shards === throttledAmong ? await grow(this.#writes, this.#memory, pk, shards, until) : undefined;
              if (grown === 'gone') return { ok: false, current: undefined };
              shards = grown ?? shards;
            }
            continue;
          }
          if (spend.ok) {
            // Allowed; a cooling it makes leaves the key with fewer counter items: the next count draws from those.
            const cooling = !coolTried && cooled(spend.item, nowMs) ? await this.#cool(pk, nowMs) : 'kept';
            const after = cooling === 'kept' ? shards : (this.#memory.shardsOf(pk) ?? shards);
            return { ok: true, item: { ...known, ...countersSeenOn(spend.item, windows), shards: after } };
          }
          seen = spend.seen;
          // A counter item missing (deleted, or not yet filled) or of another life: the session item as seen no longer denies.
          if ((seen === undefined || !ofLife(seen, guard)) && session.fresh === true) session = { ...session, fresh: false };
          // A counter item of this life at a newer version: the settings moved since this request decided; it decides again.
          if (seen !== undefined && ofLife(seen, guard) && (seen.version ?? 0) > guard.version) return this.#readAgain(pk, known, shards);
          busy.add(index);
          empties.saw(index, seen, seen === undefined || !ofLife(seen, guard));
          // No room here: look at a few other counter items before filling this one (fills are the session item's writes).
          if (!empties.enough(viewShards()) && busy.size < shards) continue;
        }
      }
      refill = undefined;
      const item = session.item;
      if (item !== undefined && session.current) {
        if (item.incarnation !== guard.incarnation || item.version !== guard.version) return { ok: false, current: item };
        if (item.leaseTag !== undefined && item.leaseTag !== tag) {
          // Another view of the policies leased last: an older view reads the policies again; a newer one takes over.
          if (olderTag(tag, item.leaseTag)) return { ok: false, current: item, stalePolicies: true };
          await this.#writes.revoke(item, { leaseTag: tag });
          newView({ item: undefined, current: false });
          continue;
        }
      }
      // Cooling is opportunistic, tried once per count (moved: the request goes on). One that landed: decided again on the
      // item read now (throttled: counted again on the counter items it left); one that may have (busy): read, go on.
      if (!coolTried && (cooled(seen, nowMs) || cooled(session.item, nowMs))) {
        coolTried = true;
        const cooling = await this.#cool(pk, nowMs);
        if (cooling === 'cooled') return this.#readAgain(pk, known, this.#memory.shardsOf(pk) ?? shards);
        const ended = cooling === 'unknown' ? await readView() : undefined;
        if (ended !== undefined) return ended;
        if (cooling === 'unknown') continue;
      }
      const needsOf = (item: CounterItem | undefined) => (w: LeaseWindow) => !leaseHasRoom(item, guard, tag, w, nowMs);
      const needs = needsOf(seen);
      // The other counter items found without room that need the same leases are filled in the same write.
      const others = empties
        .list()
        .filter((e) => e.index !== index && e.index < shards && windows.every((w) => needs(w) === needsOf(e.seen)(w)));
      // Counter items this instance has just added (spreading, growing) are filled blind, on condition they still do not exist.
      const added = this.#memory.addedOf(pk);
      const blind = windows.every(needs)
        ? [...added]
            .filter((i) => i < shards && i !== index && !others.some((e) => e.index === i))
            .slice(0, MAX_FILLED - 1 - others.length)
            .map((i) => ({ index: i, seen: undefined }))
        : [];
      const seenStart = (w: LeaseWindow) => (typeof seen?.[w.lease.start] === 'number' ? (seen[w.lease.start] as number) : undefined);
      const plan = planFills(session, scope, windows, shards, needs, seenStart, nowMs, 1 + others.length + blind.length);
      // No room: decided on the session item (the request's settings, the counts it was seen with).
      if (plan === 'no room') {
        // "Added" is only this instance's memory: another may have filled them since. Spend there before any denial.
        if (unseen) {
          this.#memory.forgetAdded(pk);
          continue;
        }
        // Not evidence enough yet against this view: counter items are tried (again); with every other one busy, counted again.
        if (!empties.enough(viewShards())) {
          if (busy.size < shards) continue;
          return countAgain(known, shards);
        }
        if (session.current && empties.missingInEvidence()) {
          // Missing counter items are evidence only if no change deleted them after the view: the item read again is unchanged.
          const again = await this.#read(pk);
          if (again === 'busy') return countAgain(known, shards);
          if (!sameItem(again.item, session.item)) {
            const ended = newView(again);
            if (ended !== undefined) return ended;
            continue;
          }
        }
        return { ok: false, current: session.current ? session.item : withCountsOf(known, session.item), noRoom: true };
      }
      if (plan === 'read') {
        const ended = await readView();
        if (ended !== undefined) return ended;
        continue;
      }
      const inflight = this.#filling.get(pk);
      if (inflight !== undefined) {
        // Another request of this instance is filling counter items of this key: spend on what it fills.
        prefer.push(...(await inflight));
        empties.clear();
        continue;
      }
      const filled = [{ index, seen }, ...others, ...blind].slice(0, plan.items);
      const { first, outcome: filling } = this.#writes.fill(pk, guard, tag, plan, windows, filled, nowMs, ttl);
      // One fill per key at a time in an instance: every fill is a write of the session item, the one item not spread.
      const others_ = filled.slice(1).map((e) => e.index);
      // A failed fill leaves nothing to spend on; its error is this request's (awaited below), never the waiters'.
      const waiters = filling.then(
        (done) => (done === 'ok' ? others_ : []),
        () => [],
      );
      this.#filling.set(pk, waiters);
      // Ended when the fill is: the next step of this request never waits on its own fill.
      const outcome = await filling.finally(() => this.#filling.get(pk) === waiters && this.#filling.delete(pk));
      if (outcome === 'ok') {
        // Filled now; a fill that did not land (throttled, say) leaves them known not to exist.
        for (const e of filled) added.delete(e.index);
        this.#memory.afterFill(pk, session.item, guard, plan, nowMs);
        return { ok: true, item: { ...known, ...countersSeenOn(first, windows), shards } };
      }
      if (outcome === 'busy') {
        // The session item (or a counter item) is throttled: others may have room; if not, a short pause first.
        busy.add(index);
        await pause(step);
        continue;
      }
      if (outcome.index !== 0) {
        // Another fill landed on one of the counter items first: spend again.
        this.#memory.forgetAdded(pk);
        empties.clear();
        continue;
      }
      // The session item is not as planned: plan again on it as it is.
      const ended = newView(this.#memory.saw(pk, outcome.item));
      if (ended !== undefined) return ended;
      refill = { index, seen };
    }
    // Out of steps (or of budget): counted again (a denial needs a view and evidence after it); the session item read
    // now unless this request has read it, or its budget is spent — a change since this request decided is decided again.
    if (session.current || performance.now() >= until) return countAgain(known, shards);
    const read = await this.#read(pk);
    if (read === 'busy') return countAgain(known, shards);
    const current = read.item;
    if (current === undefined || current.version !== guard.version || current.incarnation !== guard.incarnation)
      return { ok: false, current };
    return countAgain(known, current.shards ?? 0);
  }

  /** The session item, read now (and remembered), or `'busy'` when its reads are throttled. */
  async #read(pk: string): Promise<SessionView | 'busy'> {
    try {
      return this.#memory.saw(pk, await this.#writes.get(pk));
    } catch (error) {
      if (isBusy(error)) return 'busy';
      throw error;
    }
  }

  /** The request decided again on the session item read now; that read throttled, counted again on `known` with `shards`. */
  async #readAgain(pk: string, known: StoredSession, shards: number): Promise<CountResult> {
    const read = await this.#read(pk);
    return read === 'busy' ? countAgain(known, shards) : { ok: false, current: read.item };
  }

  /** Cools the key (`growth.ts`), once per key at a time here; opportunistic: a fault is `'unknown'`, the key forgotten. */
  #cool(pk: string, nowMs: number): Promise<Cooling> {
    return this.#cooling
      .run(pk, () => cool(this.#writes, this.#memory, pk, nowMs))
      .catch(() => {
        this.#memory.saw(pk, undefined);
        return 'unknown' as const;
      });
  }

  /** What this instance remembers of its hot keys (`shardsOf`, `heating`): for the store's cold path. */
  get memory(): Pick<LeaseMemory, 'shardsOf' | 'heating'> {
    return this.#memory;
  }

  /** Spreads a key that counts on its session item, once per instance at a time: see `spreadOnce` in `growth.ts`. */
  spread(pk: string, until = Infinity): Promise<Grown> {
    return spreadOnce(this.#writes, this.#memory, this.#spreading, pk, until);
  }

  /** The session as requests have used it, for reading only: see `SessionStore.counted`. */
  async counted(item: StoredSession): Promise<StoredSession> {
    return (item.shards ?? 0) === 0 ? item : lessUnspent(item, await this.#writes.counterItems(item));
  }
}
