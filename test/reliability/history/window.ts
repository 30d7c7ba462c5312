/**
 * What the reference model knows about one counting window (the quota's or the rate
 * limit's), as intervals where the documented bounds leave it open:
 *
 * - `used` ∈ [usedLo, usedHi]: requests counted in the window in progress. Every Allow
 *   counts once; a lost answer may count once more (ARCHITECTURE.md: "each costs the
 *   caller at most one request"), so it widens only `usedHi`.
 * - `end` ∈ [endLo, endHi]: when the window is over, in *instance time* (shared clock +
 *   the instance's offset, ms). Instance j sees the window over at shared time T when
 *   T + offset_j ≥ end ("a window is ended by the clock of the instance that opens the
 *   next one"). A window opened by an instance at T ends at T + offset + length, less up
 *   to `floorMs` when the end is stored in whole seconds.
 * - `fresh`: nothing counted since the key was created or its quota reset: the stored end
 *   may not be set yet, in which case the first counting request opens the window.
 */

export type WindowStatus = 'open' | 'over' | 'unsure';

export interface Counting {
  readonly allowed: number;
  /** Answers lost during the batch (each may have counted one request more). */
  readonly lost: number;
  /** 'maybe' when some limit in force was "no limit", so the implementation may not count. */
  readonly counted: 'yes' | 'maybe';
  readonly at: number;
  /** Offsets (ms) of the instances that served the batch: one of them opened any new window. */
  readonly offsets: readonly number[];
  /** Window lengths (s) that may be in force. */
  readonly lengths: readonly number[];
  /** Largest limit in force during the batch (for the lower bound on a split window). */
  readonly maxLimit: number;
}

export class WindowTracker {
  usedLo = 0;
  usedHi = 0;
  endLo = Number.NEGATIVE_INFINITY;
  endHi = Number.NEGATIVE_INFINITY;
  fresh = true;

  constructor(
    readonly label: string,
    /** Up to how many ms earlier than `now + length` a stored end may be (999 when stored in seconds). */
    readonly floorMs: number,
  ) {}

  /** Open for every instance of `offsets` at `at`, over for every one, or neither. */
  status(at: number, offsets: readonly number[]): WindowStatus {
    if (at + Math.max(...offsets) < this.endLo) return 'open';
    if (at + Math.min(...offsets) >= this.endHi) return 'over';
    return 'unsure';
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

  /** Counts a batch's requests into the window. */
  count(status: WindowStatus, c: Counting): void {
    if (c.allowed === 0 && c.lost === 0) return;
    const opening = this.#opening(c.at, c.offsets, c.lengths);
    if (c.counted === 'maybe') {
      if (status !== 'open') {
        this.usedLo = 0;
        this.#widenEnd(opening);
      }
      this.usedHi += c.allowed + c.lost;
      if (this.fresh) this.#widenEnd(opening);
      return;
    }
    if (status === 'open') {
      this.usedLo += c.allowed;
      this.usedHi += c.allowed + c.lost;
      if (this.fresh) this.#widenEnd(opening);
    } else if (status === 'over' && c.allowed > 0) {
      this.usedLo = c.allowed;
      this.usedHi = c.allowed + c.lost;
      [this.endLo, this.endHi] = opening;
    } else if (status === 'over') {
      // Nothing allowed, but a lost answer may have opened a window (and then been denied).
      this.usedLo = 0;
      this.usedHi = Math.max(this.usedHi, c.lost);
      this.#widenEnd(opening);
    } else {
      // The window may have ended inside the batch: what went beyond the old window's room
      // is certainly in the new one.
      this.usedLo = Math.max(0, c.allowed - Math.max(0, c.maxLimit - this.usedLo));
      this.usedHi += c.allowed + c.lost;
      this.#widenEnd(opening);
    }
    if (c.allowed > 0) this.fresh = false;
  }

  /**
   * An admin reset at `at` (admin clock, offset 0): a full window from now. `landed` when it
   * answered success — then up to `countedAlongside` requests of a batch running alongside
   * may have been counted after it; `maybe` when it failed (it may or may not have landed).
   */
  reset(at: number, lengths: readonly number[], outcome: 'landed' | 'maybe', countedAlongside: number): void {
    const end = this.#opening(at, [0], lengths);
    if (outcome === 'landed') {
      this.usedLo = 0;
      this.usedHi = countedAlongside;
      // Requests alongside may have opened a window just before the reset replaced it.
      if (countedAlongside > 0) this.#widenEnd(end);
      else [this.endLo, this.endHi] = end;
    } else {
      this.usedLo = 0;
      this.#widenEnd(end);
    }
    this.fresh = true;
  }

  describe(): string {
    const used = this.usedLo === this.usedHi ? `${this.usedLo}` : `${this.usedLo}..${this.usedHi}`;
    return `${this.label} used ${used}`;
  }

  #opening(at: number, offsets: readonly number[], lengths: readonly number[]): [number, number] {
    return [
      at + Math.min(...offsets) + Math.min(...lengths) * 1000 - this.floorMs,
      at + Math.max(...offsets) + Math.max(...lengths) * 1000,
    ];
  }

  #widenEnd([lo, hi]: [number, number]): void {
    this.endLo = Math.min(this.endLo, lo);
    this.endHi = Math.max(this.endHi, hi);
  }
}
