import { windowEnd } from '../limits/limits.ts';
import { scopeName, type CounterScope } from '../limits/scope.ts';
import { BoundedMap } from '../model/bounded-map.ts';
import type { StoredSession } from '../store/item.ts';
import type { Denial } from './decision.ts';
import type { Verdict } from './decide.ts';

/** Longest a limit denial is repeated without asking DynamoDB, in ms (with the hot-key path's half second: a second in all). */
export const DENIAL_MEMORY_MS = 500;

/** Denials in a row (each made on current counters) before the next ones are repeated from memory. */
const DENIALS_BEFORE_REPEATING = 2;

interface Remembered {
  readonly denial: Denial;
  readonly denials: number;
  readonly incarnation: string | undefined;
  readonly version: number;
  readonly until: number;
}

/**
 * Rate-limit and quota denials one instance repeats without a DynamoDB request, so that a
 * client hammering a used-up key costs at most two requests per instance, key and scope per
 * {@link DENIAL_MEMORY_MS} — never longer than the window that denied it lasts. A denial is
 * repeated only once the same scope was denied twice in a row on current counters (a key
 * denied once and then reset is asked again), and only for a request decided on the same
 * settings (incarnation and version). What it costs: once a key is being hammered, an
 * admin's reset or raise, or a counter freed elsewhere, is seen by this instance up to half a
 * second late — a second with the hot-key path's own half second (`store/leases.ts`). It
 * never allows anything.
 */
export class DenialMemory {
  readonly #entries: BoundedMap<string, Remembered>;
  readonly #ms: number;

  /** @param maxEntries most denials remembered (the oldest goes first); 0 turns it off. */
  constructor(maxEntries = 10_000, ms = DENIAL_MEMORY_MS) {
    this.#entries = new BoundedMap(maxEntries);
    this.#ms = ms;
  }

  /** The denial remembered for this session's settings and scope at `nowMs`, if any. */
  get(item: StoredSession, scope: CounterScope, nowMs: number): Denial | undefined {
    const key = `${item.pk}|${scopeName(scope)}`;
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (nowMs >= entry.until || entry.incarnation !== item.incarnation || entry.version !== item.version) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.denials >= DENIALS_BEFORE_REPEATING ? entry.denial : undefined;
  }

  /** Remembers a limit denial decided on `item` (settings and counters current) at `nowMs`. */
  remember(item: StoredSession, verdict: Extract<Verdict, { allow: false }>, denial: Denial, nowMs: number): void {
    if (verdict.check !== 'rate_limit' && verdict.check !== 'quota') return;
    const { limits, scope } = verdict.governing;
    const counters = verdict.counters ?? {};
    let ends = Number.POSITIVE_INFINITY;
    if (verdict.check === 'rate_limit' && counters.rateStart !== undefined) ends = windowEnd(counters.rateStart, limits.per);
    if (verdict.check === 'quota' && limits.quotaRenewalRate > 0 && counters.quotaStart !== undefined)
      ends = windowEnd(counters.quotaStart, limits.quotaRenewalRate);
    const until = Math.min(ends, nowMs + this.#ms);
    if (until <= nowMs) return;
    const key = `${item.pk}|${scopeName(scope)}`;
    const before = this.#entries.get(key);
    const same = before !== undefined && before.incarnation === item.incarnation && before.version === item.version && nowMs < before.until;
    const denials = same ? before.denials + 1 : 1;
    // The first denial of a run opens the interval; the ones that follow repeat until it ends.
    this.#entries.set(key, { denial, denials, incarnation: item.incarnation, version: item.version, until: same ? before.until : until });
  }
}
