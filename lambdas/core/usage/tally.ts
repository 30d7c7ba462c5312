import type { UsageDecision } from './decision-line.ts';
import { counterOf } from './usage-item.ts';

/** What one batch of decisions adds to one key's usage on one day. */
export interface UsageTally {
  readonly keyId: string;
  readonly day: string;
  /** Counter name (`allowed`, `denied_<reason>`) → requests, in name order. */
  readonly counts: ReadonlyMap<string, number>;
}

/**
 * Adds up decisions per key and UTC day. The result is in a fixed order (key id, then day,
 * counters by name) whatever the order of the decisions. (`UsageWriter` orders tallies and
 * batch ids itself before it cuts chunks and names their markers, so a batch delivered
 * again in another order is still recognised.)
 *
 * @example
 * tally([{ keyId: 'ab…', day: '2026-11-29', outcome: 'deny', reason: 'rate_limited' }]);
 * // [{ keyId: 'ab…', day: '2026-11-29', counts: Map { 'denied_rate_limited' => 1 } }]
 */
export function tally(decisions: Iterable<UsageDecision>): UsageTally[] {
  const byItem = new Map<string, { keyId: string; day: string; counts: Map<string, number> }>();
  for (const decision of decisions) {
    const id = `${decision.keyId}#${decision.day}`;
    let entry = byItem.get(id);
    if (entry === undefined) byItem.set(id, (entry = { keyId: decision.keyId, day: decision.day, counts: new Map() }));
    const counter = counterOf(decision);
    entry.counts.set(counter, (entry.counts.get(counter) ?? 0) + 1);
  }
  return [...byItem.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, { keyId, day, counts }]) => ({ keyId, day, counts: new Map([...counts].sort(([a], [b]) => (a < b ? -1 : 1))) }));
}
