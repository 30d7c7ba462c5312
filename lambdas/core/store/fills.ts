import { windowOpen } from '../limits/limits.ts';
import { countersOf, type CounterScope } from '../limits/scope.ts';
import { TABLE } from '../model/table.ts';
import { drawFill, MAX_LEASE, ofLife, type CounterItem, type LeaseWindow } from './counter-items.ts';
import { UpdateExpression } from './expression.ts';
import type { SettingsGuard, StoredSession } from './item.ts';

/**
 * Fills: how a hot key's counter items get their leases (docs/ARCHITECTURE.md, "Hot keys").
 * One transaction takes `items × lease` from the session item — the same take as a cold
 * count, under the request's guard — and writes the leases to the counter items.
 */

/** What one fill takes from the session item for one window: `take` a lease in window `start`, or `open` a new one. */
export interface WindowFill {
  readonly window: LeaseWindow;
  readonly step: 'take' | 'open';
  /** The window's start (an open: now). */
  readonly start: number;
  /** The session's count as last known (shown on the counter item; the condition checks the room itself). */
  readonly base: number;
  /** Requests leased to each counter item filled. */
  readonly lease: number;
}

/** A fill of one or more counter items: the windows each gets a lease in, and how many items. */
export interface FillPlan {
  readonly fills: readonly WindowFill[];
  readonly items: number;
}

/** What is known of the session item when a fill is planned: the item, and whether it is current (else a hint). */
export interface SessionView {
  readonly item: StoredSession | undefined;
  readonly current: boolean;
  /** Not current, but read under the same settings less than a second ago: enough to deny on (as a repeated denial). */
  readonly fresh?: boolean;
}

/**
 * The fills a counter item needs, planned on what is known of the session item: a lease of
 * `min(MAX_LEASE, ⌈room / counterItems⌉)` in each window the counter item cannot spend in
 * (`needs`). A window's start comes from the session item as known, else from the lease the
 * counter item held (`seenStart`); with neither, or once it is over, the fill opens a new
 * window. `'no room'` when the session item, known current, has no room in one of them (the
 * request is decided on it: a denial); `'read'` when only a hint says so.
 */
export function planFills(
  session: SessionView,
  scope: CounterScope,
  windows: readonly LeaseWindow[],
  counterItems: number,
  needs: (w: LeaseWindow) => boolean,
  seenStart: (w: LeaseWindow) => number | undefined,
  nowMs: number,
  wanted = 1,
): FillPlan | 'no room' | 'read' {
  const counters = session.item === undefined ? undefined : countersOf(session.item, scope);
  const fills: WindowFill[] = [];
  let items = wanted;
  for (const w of windows) {
    if (!needs(w)) continue;
    const known = counters?.[w.label === 'rate' ? 'rateStart' : 'quotaStart'];
    const start = known ?? seenStart(w);
    const used = known === undefined ? 0 : (counters?.[w.label === 'rate' ? 'rateUsed' : 'quotaUsed'] ?? 0);
    const open = windowOpen(start, w.lengthSeconds, nowMs);
    const room = open ? w.limit - used : w.limit;
    if (room <= 0) return session.current || session.fresh === true ? 'no room' : 'read';
    const lease = leaseSize(room, counterItems);
    // Never more leased at once than the room the session item is known to have.
    items = Math.max(1, Math.min(items, Math.floor(room / lease)));
    fills.push(
      open ? { window: w, step: 'take', start: start!, base: used, lease } : { window: w, step: 'open', start: nowMs, base: 0, lease },
    );
  }
  return { fills, items };
}

function leaseSize(room: number, counterItems: number): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.ceil(room / counterItems)));
}

/**
 * The session item's half of a fill: under the request's guard and lease tag (or none yet:
 * the last change revoked every lease), with the counter items in use (`index < shards`, the highest filled),
 * each window the one planned (the same start, room for the lease; over, for an open), its
 * count moved on by the lease.
 */
export function fillSessionExpression(guard: SettingsGuard, tag: string, index: number, plan: FillPlan, nowMs: number): UpdateExpression {
  const x = new UpdateExpression();
  x.when('the key exists', `attribute_exists(${x.name('pk')})`);
  x.when('same settings version', `${x.name('version')} = ${x.value(guard.version)}`);
  x.when('same incarnation', `${x.name('incarnation')} = ${x.value(guard.incarnation ?? '')}`);
  x.when('counter item in use', `${x.name('shards')} > ${x.value(index)}`);
  x.when('same lease tag, or none yet', `attribute_not_exists(${x.name('leaseTag')}) OR ${x.name('leaseTag')} = ${x.value(tag)}`);
  x.set('leaseTag', tag);
  x.set('filledAt', nowMs);
  for (const { window: w, step, start, lease } of plan.fills) {
    const s = x.name(w.start);
    const u = x.name(w.used);
    const taken = lease * plan.items;
    if (step === 'take') {
      x.when(`${w.label} window as known`, `${s} = ${x.value(start)}`);
      x.when(`${w.label} room for the leases`, `attribute_not_exists(${u}) OR ${u} <= ${x.value(w.limit - taken)}`);
      x.setTo(w.used, `if_not_exists(${u}, ${x.value(0)}) + ${x.value(taken)}`);
    } else {
      x.when(
        `${w.label} window over`,
        w.lengthSeconds === 0
          ? `attribute_not_exists(${s})`
          : `attribute_not_exists(${s}) OR ${s} <= ${x.value(nowMs - w.lengthSeconds * 1000)}`,
      );
      x.set(w.start, start);
      x.set(w.used, taken);
    }
  }
  return x;
}

/**
 * The counter item after a fill, this request spent on it, with its session's TTL `ttl` (none: `undefined`; see
 * `counterItemTtl`): the fills' windows leased, the
 * other windows kept as they were when the item was seen under the same guard and tag
 * (else dropped) — and, on the request's own item (`ordinal` 0), spent once more in each of
 * the request's `windows` kept, so that the request counts in every window it is limited by.
 */
export function filledCounterItem(
  pk: string,
  seen: CounterItem | undefined,
  guard: SettingsGuard,
  tag: string,
  fills: readonly WindowFill[],
  nowMs: number,
  ttl: number | undefined,
  ordinal = 0,
  windows: readonly LeaseWindow[] = [],
): CounterItem {
  const same = seen !== undefined && seen.version === guard.version && ofLife(seen, guard) && seen.leaseTag === tag;
  const item: Record<string, unknown> = same ? { ...seen } : {};
  Object.assign(item, {
    pk,
    incarnation: guard.incarnation ?? '',
    version: guard.version,
    leaseTag: tag,
    fill: drawFill(),
    filledAt: nowMs,
  });
  // The session's TTL, whatever the item had (a TTL from before, or another life's).
  if (ttl === undefined) delete item[TABLE.ttlAttribute];
  else item[TABLE.ttlAttribute] = ttl;
  if (ordinal === 0 && same) {
    // The request also spends in the windows kept (they had room when seen; the write's condition says they still do).
    for (const w of windows) {
      if (fills.some((fill) => fill.window.label === w.label)) continue;
      item[w.lease.spent] = (seen[w.lease.spent] as number) + 1;
    }
  }
  for (const { window: w, start, base, lease } of fills) {
    item[w.lease.start] = start;
    item[w.lease.size] = lease;
    // The first item filled spends this request; `base` places each lease in the count (shown only).
    item[w.lease.spent] = ordinal === 0 ? 1 : 0;
    item[w.lease.base] = base + ordinal * lease;
  }
  return item as CounterItem;
}

/** The session's counters as a request that spent on `counted` sees them: the lease's start, and the count it was taken at plus what it spent. */
export function countersSeenOn(counted: CounterItem, windows: readonly LeaseWindow[]): Record<string, number> {
  const counters: Record<string, number> = {};
  for (const w of windows) {
    const { start, spent, base } = { start: counted[w.lease.start], spent: counted[w.lease.spent], base: counted[w.lease.base] };
    if (typeof start === 'number') counters[w.start] = start;
    if (typeof spent === 'number') counters[w.used] = (typeof base === 'number' ? base : 0) + spent;
  }
  return counters;
}
