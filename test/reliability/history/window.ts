/**
 * What the reference model knows about one counting window (a scope's quota or rate
 * limit), as intervals where the documented bounds leave it open:
 *
 * - `used` ∈ [usedLo, usedHi]: requests counted in the window in progress. Every Allow
 *   counts once; a lost answer may count once more, so it widens only `usedHi`.
 * - `start` ∈ [startLo, startHi]: when the window in progress opened, in *instance time*
 *   (shared clock + the instance's offset, ms), less up to `floorMs` when stored in whole
 *   seconds. The window is open at instance time t iff the length in force is 0 (never
 *   renews) or t < start + length: the length in force always measures the window in
 *   progress from its start, so a length that changes (0 → N, N → 0, N → M) moves its
 *   end, and a change of limits never gives back what was used.
 * - `fresh`: nothing counted since the subject was created or its quota reset: the window
 *   may have opened then, or may open at the first counted request.
 * - `previous`: the window the one in progress followed. On a spread subject an instance
 *   whose clock is behind may still spend that window's last leases after a faster one
 *   opened the next (docs/ARCHITECTURE.md, "Bounds, stated": two windows may overlap by up
 *   to the clock spread, each within its limit): while a batch's instance may be inside it
 *   by its own clock, what it may still have left is room too (`overlap`).
 */

export type WindowStatus = 'open' | 'over' | 'unsure';

export interface Counting {
  /** Allowed requests certainly counted here, and those that may have been. */
  readonly sure: number;
  readonly maybe: number;
  /** Answers lost during the batch (each may have counted one request more). */
  readonly lost: number;
  /** False when some limit in force was "no limit", so the implementation may not count at all. */
  readonly counted: boolean;
  readonly at: number;
  /** Offsets (ms) of the instances that served the batch: one of them opened any new window. */
  readonly offsets: readonly number[];
  /** Largest limit in force during the batch (for the lower bound on a split window). */
  readonly maxLimit: number;
  /** Allows that may have counted in the previous window instead (`overlap`). */
  readonly overlap: number;
}

export class WindowTracker {
  usedLo = 0;
  usedHi = 0;
  startLo: number;
  startHi: number;
  fresh = true;
  /**
   * The window this one followed: its latest start; at most what it had left (`left`); and
   * at most what it and this one have left together (`pool`) — an Allow in the overlap may
   * count in either, never in both.
   */
  #previous: { readonly startHi: number; left: number; pool: number } | undefined;

  constructor(
    readonly label: string,
    /** Up to how many ms earlier a stored start may be (999 when stored in whole seconds). */
    readonly floorMs: number,
    /** When it may have opened at the earliest (shared-clock ms, admin clock). */
    at: number,
  ) {
    this.startLo = at - floorMs;
    this.startHi = at;
  }

  /** Open for every instance of `offsets` at `at` under every length of `lengths` (s), over for every one, or neither. */
  status(at: number, offsets: readonly number[], lengths: readonly number[]): WindowStatus {
    const statuses = new Set(lengths.map((length) => this.#statusFor(at, offsets, length)));
    return statuses.size === 1 ? [...statuses][0]! : 'unsure';
  }

  /** When the window in progress ends under `length` (s), at the earliest and the latest, in instance time. */
  end(length: number): [number, number] | undefined {
    if (length === 0 || !Number.isFinite(this.startLo)) return undefined;
    return [this.startLo + length * 1000, this.startHi + length * 1000];
  }

  /**
   * Most requests this window may still allow in a batch with limits up to `maxLimit`,
   * plus one full window per boundary that may fall inside the batch (an unsure end, an
   * admin reset running alongside).
   */
  cap(status: WindowStatus, maxLimit: number, extraBoundaries = 0): number {
    const inProgress = Math.max(0, maxLimit - this.usedLo);
    const base = status === 'open' ? inProgress : status === 'over' ? maxLimit : inProgress + maxLimit;
    return base + extraBoundaries * maxLimit;
  }

  /** Fewest requests this window certainly still allows under `limit` (for a certain status). */
  floor(status: Exclude<WindowStatus, 'unsure'>, limit: number): number {
    return status === 'over' ? limit : Math.max(0, limit - this.usedHi);
  }

  /**
   * Room the previous window may still have for a spread subject's batch: an instance of
   * `offsets` may be inside it at `at` by its own clock, under the longest of `lengths` (s).
   */
  overlap(at: number, offsets: readonly number[], lengths: readonly number[], maxLimit: number): number {
    const longest = Math.max(0, ...lengths);
    if (this.#previous === undefined || longest === 0) return 0;
    if (at + Math.min(...offsets) >= this.#previous.startHi + longest * 1000) return 0;
    const roomHere = Math.max(0, maxLimit - this.usedLo);
    return Math.max(0, Math.min(this.#previous.left, this.#previous.pool - roomHere));
  }

  /** Counts a batch's requests into the window. */
  count(status: WindowStatus, c: Counting): void {
    if (c.sure + c.maybe === 0 && c.lost === 0) return;
    const previous = status === 'open' ? this.#previous : { startHi: this.startHi, left: Math.max(0, c.maxLimit - this.usedLo), pool: 0 };
    if (previous !== undefined && status === 'open') {
      // What went beyond this window's room was the previous window's; every Allow is gone from the two together.
      previous.left = Math.max(0, previous.left - Math.max(0, c.sure - Math.max(0, c.maxLimit - this.usedLo)));
      previous.pool = Math.max(0, previous.pool - c.sure);
    }
    // Allows the previous window may have taken are not certainly counted in this one.
    const sure = c.counted ? Math.max(0, c.sure - c.overlap) : 0;
    const maybe = c.counted ? c.maybe : c.sure + c.maybe;
    const all = c.sure + c.maybe + c.lost;
    const opening: [number, number] = [c.at + Math.min(...c.offsets) - this.floorMs, c.at + Math.max(...c.offsets)];
    if (status === 'open') {
      this.usedLo += sure;
      this.usedHi += all;
      if (this.fresh) this.#widenStart(opening);
    } else if (status === 'over' && sure > 0) {
      this.usedLo = sure;
      this.usedHi = all;
      [this.startLo, this.startHi] = opening;
    } else if (status === 'over') {
      // Nothing certainly counted here, but a request may have opened a window.
      this.usedLo = 0;
      this.usedHi = Math.max(this.usedHi, maybe + c.lost);
      this.#widenStart(opening);
    } else {
      // The window may have ended inside the batch: what went beyond the old window's room
      // is certainly in the new one.
      this.usedLo = Math.max(0, sure - Math.max(0, c.maxLimit - this.usedLo));
      this.usedHi += all;
      this.#widenStart(opening);
    }
    if (sure > 0) this.fresh = false;
    if (status !== 'open' && previous !== undefined)
      this.#previous = { ...previous, pool: previous.left + Math.max(0, c.maxLimit - this.usedLo) };
  }

  /**
   * A reset at `at` (admin clock, offset 0): a new window from now, nothing used. `landed`
   * when it answered success — then up to `countedAlongside` requests of a batch running
   * alongside may have been counted after it; `maybe` when it may or may not have landed.
   */
  reset(at: number, outcome: 'landed' | 'maybe', countedAlongside: number): void {
    const start: [number, number] = [at - this.floorMs, at];
    if (outcome === 'landed') {
      this.usedLo = 0;
      this.usedHi = countedAlongside;
      // Requests alongside may have opened a window just before the reset replaced it.
      if (countedAlongside > 0) this.#widenStart(start);
      else [this.startLo, this.startHi] = start;
    } else {
      this.usedLo = 0;
      this.#widenStart(start);
    }
    this.fresh = true;
    this.#previous = undefined; // a reset deletes every lease
  }

  /** Requests counted in the window without an Allow (a revoked lease's unspent part): widens only `usedHi`. */
  leak(requests: number): void {
    if (requests > 0) this.usedHi += requests;
  }

  describe(): string {
    const used = this.usedLo === this.usedHi ? `${this.usedLo}` : `${this.usedLo}..${this.usedHi}`;
    return `${this.label} used ${used}`;
  }

  #statusFor(at: number, offsets: readonly number[], length: number): WindowStatus {
    if (length === 0) return 'open';
    if (at + Math.max(...offsets) < this.startLo + length * 1000) return 'open';
    if (at + Math.min(...offsets) >= this.startHi + length * 1000) return 'over';
    return 'unsure';
  }

  #widenStart([lo, hi]: [number, number]): void {
    this.startLo = Math.min(this.startLo, lo);
    this.startHi = Math.max(this.startHi, hi);
  }
}
