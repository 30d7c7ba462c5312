/**
 * A token bucket: `ratePerSecond` units a second, holding at most one second's worth (the
 * burst). It starts full. A take that finds enough units (or a full bucket, for a take larger
 * than the whole bucket) is granted and may leave the bucket in debt, as DynamoDB lets one
 * large item through and charges the partition for it afterwards; otherwise it takes nothing.
 *
 * @example
 * const bucket = new TokenBucket(10, 0); // 10 units a second, at t = 0 ms
 * bucket.take(10, 0); // true: the burst
 * bucket.take(1, 0); // false: empty
 * bucket.take(1, 100); // true: 100 ms refilled one unit
 */
export class TokenBucket {
  readonly #rate: number;
  #units: number;
  #at: number;

  /** @param nowMs the clock reading the bucket starts at (any monotonic millisecond clock) */
  constructor(ratePerSecond: number, nowMs: number) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError(`a token bucket needs a positive finite rate, not ${ratePerSecond}`);
    }
    this.#rate = ratePerSecond;
    this.#units = ratePerSecond;
    this.#at = nowMs;
  }

  /** Units available at `nowMs` (negative while in debt). */
  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#units;
  }

  /** Whether `units` could be taken at `nowMs`, without taking them. */
  canTake(units: number, nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#units >= Math.min(units, this.#rate);
  }

  /** Takes `units` if {@link canTake} allows; returns whether it did. */
  take(units: number, nowMs: number): boolean {
    if (!this.canTake(units, nowMs)) return false;
    this.#units -= units;
    return true;
  }

  /** Whether the bucket is full at `nowMs`: it then remembers nothing worth keeping. */
  isFull(nowMs: number): boolean {
    return this.available(nowMs) >= this.#rate;
  }

  #refill(nowMs: number): void {
    // A clock that steps back (or a stale reading) refills nothing and moves nothing back.
    if (nowMs <= this.#at) return;
    this.#units = Math.min(this.#rate, this.#units + ((nowMs - this.#at) / 1000) * this.#rate);
    this.#at = nowMs;
  }
}
