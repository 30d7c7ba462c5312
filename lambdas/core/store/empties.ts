import type { CounterItem } from './counter-items.ts';
import type { StoredSession } from './item.ts';

/** Counter items a request tries to spend on before it fills one, and sees without room before a denial. */
const PROBES = 3;

/**
 * The counter items one request has found without room (each once, as last seen). They are
 * filled together; and since the session item counts the leases out, a denial on it needs
 * evidence that the leases are spent: `PROBES` distinct counter items (all, if fewer) seen
 * without room *since* the request's view of the session item, among those the view names
 * (a cooling since halved them: the request may still draw beyond). Items seen before that view
 * are still filled, but are no evidence — a fill in between may have taken just the room
 * the view shows gone — nor is one item seen twice.
 */
export class Empties {
  readonly #seen = new Map<number, { item: CounterItem | undefined; evidence: boolean; missing: boolean }>();

  /** `missing`: the counter item does not exist in this life of the key (never filled, or deleted by a change). */
  saw(index: number, item: CounterItem | undefined, missing: boolean): void {
    this.#seen.set(index, { item, evidence: true, missing });
  }

  /**
   * Whether some evidence is a missing counter item: a change landing after the view (a
   * reset, a raise, a cooling) deletes counter items, so such evidence holds only if the
   * session item is unchanged since the view.
   */
  missingInEvidence(): boolean {
    for (const entry of this.#seen.values()) if (entry.evidence && entry.missing) return true;
    return false;
  }

  /** A new view of the session item: what was seen before it is evidence no more. Returns those counter items. */
  viewed(): number[] {
    for (const entry of this.#seen.values()) entry.evidence = false;
    return [...this.#seen.keys()];
  }

  /** Filled meanwhile (by another request): not empty any more. */
  clear(): void {
    this.#seen.clear();
  }

  list(): { index: number; seen: CounterItem | undefined }[] {
    return [...this.#seen].map(([index, { item }]) => ({ index, seen: item }));
  }

  /** Whether there is evidence enough against a view of the session item that names `shards` counter items (only those count). */
  enough(shards: number): boolean {
    let evidence = 0;
    for (const [index, entry] of this.#seen) if (entry.evidence && index < shards) evidence++;
    return evidence >= Math.min(PROBES, shards);
  }
}

/**
 * Whether two reads of a session item are the same item, attribute by attribute (in any
 * order): every write to it — a fill, a change, a reset, a cooling — moves one of them.
 */
export function sameItem(a: StoredSession | undefined, b: StoredSession | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  const names = Object.keys(x);
  return names.length === Object.keys(y).length && names.every((name) => JSON.stringify(x[name]) === JSON.stringify(y[name]));
}
