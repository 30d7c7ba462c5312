import { BoundedMap } from '../model/bounded-map.ts';
import type { FillPlan, SessionView } from './fills.ts';
import type { SettingsGuard, StoredSession } from './item.ts';

/** Hot keys an instance remembers something of. */
const REMEMBERED_KEYS = 1000;
/** How long a session item this instance saw counts as current, to deny on (ms): as long as a repeated denial. */
export const FRESH_MS = 500;

/**
 * What one instance remembers of its hot keys, by partition key, all bounded: the session
 * item as last seen (a hint to plan fills with; to deny on only while fresh), the counter
 * items it has just added and nobody has filled yet, and when it started spreading a key.
 * Nothing here ever allows: every use is checked by a conditional write.
 */
export class LeaseMemory {
  readonly #sessions = new BoundedMap<string, { readonly item: StoredSession; readonly at: number }>(REMEMBERED_KEYS);
  readonly #added = new BoundedMap<string, Set<number>>(REMEMBERED_KEYS);
  readonly #heating = new BoundedMap<string, number>(REMEMBERED_KEYS);
  /** Counter items a cooling of this instance left, for keys whose session item it could not read after it. */
  readonly #left = new BoundedMap<string, number>(REMEMBERED_KEYS);

  /** Remembers the session item as it is (a read, or the item a failed condition returned); it is current for this request. */
  saw(pk: string, item: StoredSession | undefined): SessionView {
    this.#left.delete(pk);
    if (item === undefined) this.#sessions.delete(pk);
    else this.#sessions.set(pk, { item, at: Date.now() });
    return { item, current: true };
  }

  /** The session item as last seen, as a hint; fresh (enough to deny on) when seen under `guard` moments ago. */
  hint(pk: string, guard: SettingsGuard): SessionView {
    const seen = this.#sessions.get(pk);
    const fresh =
      seen !== undefined &&
      Date.now() - seen.at < FRESH_MS &&
      seen.item.version === guard.version &&
      seen.item.incarnation === guard.incarnation;
    return { item: seen?.item, current: false, fresh };
  }

  /**
   * The counter items the session item named when this instance last saw it (0: it counts on
   * its session item); `undefined` when this instance remembers nothing of the key.
   */
  shardsOf(pk: string): number | undefined {
    const seen = this.#sessions.get(pk);
    return seen === undefined ? this.#left.get(pk) : (seen.item.shards ?? 0);
  }

  /**
   * A cooling this instance made landed and the session item could not be read after it: the
   * item is forgotten (its counts are from before the cooling gave the unspent leases back —
   * planning or denying on them would refuse requests the key has room for), and only the
   * number of counter items left is kept.
   */
  cooled(pk: string, shards: number): void {
    this.#sessions.delete(pk);
    this.#left.set(pk, shards);
  }

  /**
   * After a fill landed: the session item as it left it, under its guard — its count at least
   * this (others may have taken more), so "no room" on it holds until a reset, and the window
   * starts are exact.
   */
  afterFill(pk: string, item: StoredSession | undefined, guard: SettingsGuard, plan: FillPlan, nowMs: number): void {
    const next: Record<string, unknown> = { ...item, version: guard.version, incarnation: guard.incarnation, filledAt: nowMs };
    if (item === undefined) next.shards = this.#left.get(pk); // planned on nothing: its counts are a lower bound
    for (const { window: w, step, start, base, lease } of plan.fills) {
      next[w.start] = start;
      next[w.used] = (step === 'open' ? 0 : base) + lease * plan.items;
    }
    this.#sessions.set(pk, { item: next as unknown as StoredSession, at: Date.now() });
  }

  /** Counter items `from … to - 1` of `pk`, just added by this instance (spreading, growing, cooling): known not to exist. */
  added(pk: string, from: number, to: number): void {
    this.#added.set(pk, new Set(Array.from({ length: to - from }, (_, i) => from + i)));
  }

  /** The counter items of `pk` this instance added and nobody has filled yet (a live set: fills take theirs out). */
  addedOf(pk: string): Set<number> {
    return this.#added.get(pk) ?? new Set();
  }

  /**
   * Whether counter items of `pk` below `shards` that this instance added are still unfilled:
   * it does not grow the key again before it has filled them (more empty items help no one).
   */
  unfilled(pk: string, shards: number): boolean {
    return [...this.addedOf(pk)].some((index) => index < shards);
  }

  /** Another fill reached one of them first: none is known to be absent any more. */
  forgetAdded(pk: string): void {
    this.#added.delete(pk);
  }

  /** This instance starts spreading `pk`. */
  heat(pk: string): void {
    this.#heating.set(pk, Date.now());
  }

  /** `pk` is spread: a key that cools back to its session item later is not spread again on this mark. */
  spread(pk: string): void {
    this.#heating.delete(pk);
  }

  /**
   * Whether this instance found the key's session item throttled in the last moments and has
   * not seen it spread yet: its requests then wait for the spreading write instead of adding
   * counting writes to the throttled item.
   */
  heating(pk: string): boolean {
    const since = this.#heating.get(pk);
    if (since === undefined) return false;
    if (Date.now() - since < FRESH_MS && (this.shardsOf(pk) ?? 0) === 0) return true;
    this.#heating.delete(pk);
    return false;
  }
}

/**
 * One promise per key at a time: requests of one instance that need the same write on the
 * same key (spreading it, cooling it) wait for one.
 */
export class OncePerKey<T> {
  readonly #running = new Map<string, Promise<T>>();

  /** `work` for `pk`, or the one running for it. */
  run(pk: string, work: () => Promise<T>): Promise<T> {
    let running = this.#running.get(pk);
    if (running === undefined) {
      running = work().finally(() => this.#running.delete(pk));
      this.#running.set(pk, running);
    }
    return running;
  }

  /** The work running for `pk`, if any. */
  running(pk: string): Promise<T> | undefined {
    return this.#running.get(pk);
  }
}

/** What {@link byTime} answers when `until` came first. */
export const LATE = Symbol('late');

/** `work`'s answer, or {@link LATE} once `until` (a `performance.now()` time) has passed first. */
export function byTime<T>(work: Promise<T>, until: number): Promise<T | typeof LATE> {
  if (until === Number.POSITIVE_INFINITY) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), Math.max(0, until - performance.now()));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
