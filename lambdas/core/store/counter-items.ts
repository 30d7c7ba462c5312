import { randomInt } from 'node:crypto';
import { windowOpen, type CountPlan } from '../limits/limits.ts';
import { counterAttributes, type CounterScope } from '../limits/scope.ts';
import { UpdateExpression } from './expression.ts';
import { namedFields, type SettingsGuard, type StoredSession } from './item.ts';

/**
 * A hot key's counter items and their leases (docs/ARCHITECTURE.md, "Hot keys"). A counter
 * item `<pk>#c<i>` holds, per scope and window, a *lease*: a range of the key's count taken
 * from the session item by one conditional write (`used` from `u` to `u + g`), which requests
 * then spend one by one on the counter item. Every allowed request is therefore counted on
 * the session item — directly or inside a lease — so a window never allows more than its limit.
 *
 * A counter item holds copies of the guard it was filled under (incarnation, settings
 * version) and of the lease tag (the versions of the policies the limits came from); a
 * request spends only under the very guard and tag it decided under. Every change of the
 * session deletes the counter items in its own transaction, so no lease outlives the
 * settings it was taken under.
 */

/** Steps (spends and fills) one request takes on a hot key before it lets the request be decided again. */
export const MAX_STEPS = 8;
/** Most counter items one fill writes (a transaction of 1 + this many items). */
export const MAX_FILLED = 8;
/** Most counter items a key spreads over (a change of a hot key is one transaction of 1 + this many items). */
export const MAX_COUNTER_ITEMS = 64;
/** Most requests one lease hands a counter item. */
export const MAX_LEASE = 128;
/** Counter items a key starts with when its session item is first throttled. */
export const FIRST_COUNTER_ITEMS = 8;
/**
 * A lease spent more slowly than this says the key has cooled: its counter items halve
 * (and at one, the key counts on its session item again).
 */
export const COOL_MS = 60_000;

/** A counter item as stored: per scope and window, `<w>Start`, `<w>Lease`, `<w>Spent`, `<w>Base` (see {@link leaseAttributes}). */
export interface CounterItem {
  readonly pk: string;
  readonly incarnation?: string;
  readonly version?: number;
  /** The lease tag (policy versions) every lease on it was taken under. */
  readonly leaseTag?: string;
  /** The fill that wrote the item: a number each fill draws at random (see {@link unchangedCounterItem}). */
  readonly fill?: number;
  /** Epoch ms of the last fill. */
  readonly filledAt?: number;
  readonly [attribute: string]: unknown;
}

/** The partition key of a session's counter item `index`. */
export function counterItemPk(pk: string, index: number): string {
  return `${pk}#c${index}`;
}

/** The limited windows of a plan, each with its limit, length and attribute names in `scope`. */
export interface LeaseWindow {
  readonly label: 'rate' | 'quota';
  readonly limit: number;
  readonly lengthSeconds: number;
  /** On the session item: the window's count and start. */
  readonly used: string;
  readonly start: string;
  /** On a counter item: the lease's window start, size, requests spent, and the session's count it was taken at (shown, never trusted). */
  readonly lease: { readonly start: string; readonly size: string; readonly spent: string; readonly base: string };
}

export function leaseWindows(scope: CounterScope, plan: CountPlan): LeaseWindow[] {
  const names = counterAttributes(scope);
  const suffix = scope === 'key' ? '' : `@${scope.apiId}`;
  const lease = (w: string) => ({
    start: `${w}Start${suffix}`,
    size: `${w}Lease${suffix}`,
    spent: `${w}Spent${suffix}`,
    base: `${w}Base${suffix}`,
  });
  const { limits } = plan;
  const windows: LeaseWindow[] = [];
  if (plan.rate !== 'none')
    windows.push({
      label: 'rate',
      limit: limits.rate,
      lengthSeconds: limits.per,
      used: names.rateUsed,
      start: names.rateStart,
      lease: lease('rate'),
    });
  if (plan.quota !== 'none') {
    windows.push({
      label: 'quota',
      limit: limits.quotaMax,
      lengthSeconds: limits.quotaRenewalRate,
      used: names.quotaUsed,
      start: names.quotaStart,
      lease: lease('quota'),
    });
  }
  return windows;
}

/** A window's "still open at now" clause on `start` (only a window that ends has a latest start). */
function openClause(x: UpdateExpression, w: LeaseWindow, attribute: string, nowMs: number): string {
  const start = x.name(attribute);
  return w.lengthSeconds === 0 ? `attribute_exists(${start})` : `${start} > ${x.value(nowMs - w.lengthSeconds * 1000)}`;
}

/**
 * Spending one request of the leases on a counter item: under the same guard and lease tag,
 * each limited window still open and below its lease's ceiling.
 */
export function spendExpression(guard: SettingsGuard, tag: string, windows: readonly LeaseWindow[], nowMs: number): UpdateExpression {
  const x = new UpdateExpression();
  x.when('same settings version', `${x.name('version')} = ${x.value(guard.version)}`);
  x.when('same incarnation', `${x.name('incarnation')} = ${x.value(guard.incarnation ?? '')}`);
  x.when('same lease tag', `${x.name('leaseTag')} = ${x.value(tag)}`);
  for (const w of windows) {
    x.when(`${w.label} window open`, openClause(x, w, w.lease.start, nowMs));
    x.when(`${w.label} lease has room`, `${x.name(w.lease.spent)} < ${x.name(w.lease.size)}`);
    x.setTo(w.lease.spent, `${x.name(w.lease.spent)} + ${x.value(1)}`);
  }
  return x;
}

/** True when a counter item was filled in this life of the key (a key from before lives had one writes `''`). */
export function ofLife(item: CounterItem, guard: { readonly incarnation?: string | undefined }): boolean {
  return item.incarnation === (guard.incarnation ?? '');
}

/** True when a counter item can spend one more request in window `w` under this guard and tag. */
export function leaseHasRoom(item: CounterItem | undefined, guard: SettingsGuard, tag: string, w: LeaseWindow, nowMs: number): boolean {
  if (item === undefined || item.version !== guard.version || !ofLife(item, guard) || item.leaseTag !== tag) return false;
  const { start, size, spent } = { start: item[w.lease.start], size: item[w.lease.size], spent: item[w.lease.spent] };
  if (typeof start !== 'number' || typeof size !== 'number' || typeof spent !== 'number') return false;
  return windowOpen(start, w.lengthSeconds, nowMs) && spent < size;
}

/**
 * The condition of replacing or deleting a counter item seen as `seen`: still exactly that one
 * — no fill (`fill`) and no spend (every `…Spent`) since, in any scope — or still none. A
 * fill keeps the other windows as seen, so a spend in between must make it fail, or it would
 * be rewound. Every fill draws its `fill` at random and spends only grow between fills, so
 * an item deleted (by a change or a cooling) and filled again never looks as it was seen.
 */
export function unchangedCounterItem(seen: CounterItem | undefined): UpdateExpression {
  const x = new UpdateExpression();
  if (seen === undefined) {
    x.when('still none', `attribute_not_exists(${x.name('pk')})`);
    return x;
  }
  x.when(
    'no fill since',
    seen.fill === undefined ? `attribute_not_exists(${x.name('fill')})` : `${x.name('fill')} = ${x.value(seen.fill)}`,
  );
  for (const [name, value] of Object.entries(seen)) {
    if (/^(quota|rate)Spent(@.*)?$/.test(name)) x.when(`no spend since (${name})`, `${x.name(name)} = ${x.value(value)}`);
  }
  return x;
}

/** A fill's `fill`: drawn at random, so that no other fill of the item (in this life or another) has the same. */
export function drawFill(): number {
  return randomInt(1, 2 ** 48 - 1);
}

/**
 * Settings a change may name and still keep the leases: none is a limit, a count, or what
 * chooses the limits (policies; access rights, which hold the per-API limits).
 */
const LEASE_NEUTRAL_SETTINGS: ReadonlySet<string> = new Set(['alias', 'expires', 'metaData', 'tags', 'isInactive', 'keyIds']);

/**
 * Whether a change of the session keeps the leases on its counter items: it names no
 * counters and no setting but those of {@link LEASE_NEUTRAL_SETTINGS}. The limits and counts
 * then stand, so every lease is still inside its window's count; its transaction moves the
 * leases to the new version (requests decided on the old one decide again) instead of
 * deleting what nobody spent yet. Any other change deletes them. A setting this list does not
 * name revokes: a new setting costs at most unspent leases, never an over-grant.
 */
export function keepsLeases(change: { readonly settings?: object; readonly counters?: object }): boolean {
  return namedFields(change.counters).length === 0 && namedFields(change.settings).every((field) => LEASE_NEUTRAL_SETTINGS.has(field));
}

/** Conditions a session write on the number of counter items it revokes the leases of (absent = none). */
export function whenCounterItems(x: UpdateExpression, shards: number): void {
  const name = x.name('shards');
  x.when('same counter items', shards === 0 ? `attribute_not_exists(${name})` : `${name} = ${x.value(shards)}`);
}

/**
 * Whether a counter item's last lease has lasted longer than the cooling time, or the
 * session item's last fill (of any counter item) is older than that: the key has cooled.
 */
export function cooled(item: { readonly filledAt?: number } | undefined, nowMs: number): boolean {
  return item?.filledAt !== undefined && nowMs - item.filledAt > COOL_MS;
}

/** A counter item index at random, avoiding those found busy in this request while others remain. */
export function pick(shards: number, busy: ReadonlySet<number>): number {
  const free = Array.from({ length: shards }, (_, index) => index).filter((index) => !busy.has(index));
  const from = free.length > 0 ? free : Array.from({ length: shards }, (_, index) => index);
  return from[Math.floor(Math.random() * from.length)]!;
}

/**
 * The requests leased but not spent on `items` that still count on `session`: leases taken
 * under its guard and lease tag, in the window it is in (same start) — by the session
 * item's count attribute (`quotaUsed`, `rateUsed@<api>`, …).
 */
export function unspentLeases(session: StoredSession, items: readonly (CounterItem | undefined)[]): Record<string, number> {
  const returned: Record<string, number> = {};
  const stored = session as unknown as Record<string, unknown>;
  for (const item of items) {
    if (item === undefined || item.version !== session.version || !ofLife(item, session)) continue;
    if (item.leaseTag !== (session.leaseTag ?? item.leaseTag)) continue;
    for (const [name, size] of Object.entries(item)) {
      const match = /^(quota|rate)Lease(@.*)?$/.exec(name);
      if (match === null || typeof size !== 'number') continue;
      const [, window, scope = ''] = match;
      const spent = item[`${window}Spent${scope}`];
      const used = `${window}Used${scope}`;
      if (
        typeof spent !== 'number' ||
        item[`${window}Start${scope}`] !== stored[`${window}Start${scope}`] ||
        typeof stored[used] !== 'number'
      )
        continue;
      returned[used] = (returned[used] ?? 0) + Math.max(0, size - spent);
    }
  }
  return returned;
}

/** `session` with the unspent leases of its counter `items` taken off its counts: what requests have used. */
export function lessUnspent(session: StoredSession, items: readonly (CounterItem | undefined)[]): StoredSession {
  const counted: Record<string, unknown> = { ...session };
  for (const [used, count] of Object.entries(unspentLeases(session, items)))
    counted[used] = (session as unknown as Record<string, number>)[used]! - count;
  return counted as unknown as StoredSession;
}
