/**
 * A map that keeps at most `max` entries: setting a key makes it the newest, and setting one
 * more than `max` drops the oldest. What every per-instance memory of the authorizer uses
 * (remembered settings, pointers, denials, hot-key hints, the policy cache), so that no
 * traffic pattern grows one without bound. `max` 0 keeps nothing.
 *
 * @example
 * const seen = new BoundedMap<string, number>(2);
 * seen.set('a', 1).set('b', 2).set('c', 3); // 'a' is dropped
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly #max: number;

  constructor(max: number) {
    super();
    this.#max = max;
  }

  override set(key: K, value: V): this {
    if (this.#max <= 0) return this;
    this.delete(key);
    while (this.size >= this.#max) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}
