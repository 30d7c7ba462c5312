import type { CounterScope } from '../limits/scope.ts';
import { FIRST_COUNTER_ITEMS, MAX_COUNTER_ITEMS, type LeaseWindow } from './counter-items.ts';
import { planFills, type SessionView } from './fills.ts';
import type { LeaseMemory } from './lease-memory.ts';
import type { LeaseWrites } from './lease-writes.ts';

/**
 * How a hot key gets more counter items (docs/ARCHITECTURE.md, "Hot keys"): when it spreads
 * (its session item throttled) and when it grows (two of its counter items throttled in one
 * request, and new ones could be filled).
 */

/** Attempts of the write that spreads a key (its session item is throttled when it is needed). */
const GROW_ATTEMPTS = 10;

/** The counter items in force after a growth; `'gone'`: the key was deleted; `undefined`: its session item stayed throttled. */
export type Grown = number | 'gone' | undefined;

/**
 * Spreads a key's counters over more counter items: `FIRST_COUNTER_ITEMS` for a key that
 * counted on its session item, else twice as many (at most `MAX_COUNTER_ITEMS`). One
 * UpdateItem that only ever raises `shards`, tried again after a short pause while the
 * session item is throttled; returns the number in force after it, `'gone'` when the key
 * no longer exists (deleted meanwhile: an answer, not a fault), or `undefined` when the
 * session item stayed throttled. What was added is remembered in `memory` (filled blind).
 */
export async function grow(writes: LeaseWrites, memory: LeaseMemory, pk: string, from: number): Promise<Grown> {
  const to = from === 0 ? FIRST_COUNTER_ITEMS : Math.min(MAX_COUNTER_ITEMS, from * 2);
  if (to <= from) return from;
  for (let attempt = 1; attempt <= GROW_ATTEMPTS; attempt++) {
    const outcome = await writes.raiseShards(pk, to);
    if (outcome === 'ok') {
      memory.added(pk, from, to);
      return to;
    }
    if (outcome !== 'busy') return memory.saw(pk, outcome.current).item?.shards ?? (outcome.current === undefined ? 'gone' : 0);
    await new Promise((resolve) => setTimeout(resolve, 15 * attempt * (0.5 + Math.random())));
  }
  return undefined;
}

/** Whether a fill could lease anything on the session item as seen: new counter items could be filled (else growing only adds empty ones). */
export function fillable(
  session: SessionView,
  scope: CounterScope,
  windows: readonly LeaseWindow[],
  shards: number,
  nowMs: number,
): boolean {
  return (
    planFills(
      session,
      scope,
      windows,
      shards,
      () => true,
      () => undefined,
      nowMs,
    ) !== 'no room'
  );
}
