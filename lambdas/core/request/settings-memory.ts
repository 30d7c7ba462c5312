import { isCounterAttribute } from '../limits/scope.ts';
import { BoundedMap } from '../model/bounded-map.ts';
import type { StoredSession } from '../store/item.ts';

/**
 * Sessions' settings remembered by one authorizer instance, so that a request on a known
 * key costs one conditional write instead of a read and a write. Safe by construction: a
 * remembered item is only ever used to decide an Allow whose counting write is conditioned
 * on the remembered incarnation and version; if the settings changed, that write fails and
 * returns the item as it is. Counters are never taken from memory (they are dropped here),
 * and no denial is made on remembered settings.
 *
 * Bounded (least recently used goes first) and keyed by partition key — a hash, never a
 * raw key.
 */
export class SettingsMemory {
  readonly #items: BoundedMap<string, StoredSession>;

  /** @param maxEntries most sessions remembered; 0 turns remembering off. @default 10000 */
  constructor(maxEntries = 10_000) {
    this.#items = new BoundedMap(maxEntries);
  }

  get(pk: string): StoredSession | undefined {
    const item = this.#items.get(pk);
    if (item === undefined) return undefined;
    this.#items.delete(pk);
    this.#items.set(pk, item);
    return item;
  }

  /** Remembers an item's settings (its counters are not kept). */
  remember(item: StoredSession): void {
    this.#items.set(item.pk, withoutCounters(item));
  }

  forget(pk: string): void {
    this.#items.delete(pk);
  }

  get size(): number {
    return this.#items.size;
  }
}

function withoutCounters(item: StoredSession): StoredSession {
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    if (!isCounterAttribute(name)) settings[name] = value;
  }
  return settings as unknown as StoredSession;
}
