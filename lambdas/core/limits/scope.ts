import type { Counters } from './limits.ts';

/**
 * Where a request's counters live. `key` is the session's own counters; an API id is that
 * API's counters, used when the key has per-API limits for it. Each scope's counters are
 * top-level attributes of the session item (top-level, so that a first write can create
 * them without a parent map). A scope kept in an item of its own later changes only
 * `counterAttributes` and the item the counting write goes to.
 */
export type CounterScope = 'key' | { readonly apiId: string };

/** The attribute names of one scope's counters. */
export interface CounterAttributes {
  readonly quotaUsed: string;
  readonly quotaRenews: string;
  readonly rateUsed: string;
  readonly rateResetsAt: string;
}

const KEY_ATTRIBUTES: CounterAttributes = {
  quotaUsed: 'quotaUsed',
  quotaRenews: 'quotaRenews',
  rateUsed: 'rateUsed',
  rateResetsAt: 'rateResetsAt',
};

/** Attribute names of a scope: `quotaUsed`, or `quotaUsed@<apiId>` for an API's own counters. */
export function counterAttributes(scope: CounterScope): CounterAttributes {
  if (scope === 'key') return KEY_ATTRIBUTES;
  const suffix = `@${scope.apiId}`;
  return {
    quotaUsed: `quotaUsed${suffix}`,
    quotaRenews: `quotaRenews${suffix}`,
    rateUsed: `rateUsed${suffix}`,
    rateResetsAt: `rateResetsAt${suffix}`,
  };
}

/** A scope's counters read off an item. */
export function countersOf(stored: object, scope: CounterScope): Counters {
  const item = stored as Readonly<Record<string, unknown>>;
  const names = counterAttributes(scope);
  const read = (name: string): number | undefined => (typeof item[name] === 'number' ? (item[name] as number) : undefined);
  const counters: { -readonly [K in keyof Counters]: Counters[K] } = {};
  const quotaUsed = read(names.quotaUsed);
  const quotaRenews = read(names.quotaRenews);
  const rateUsed = read(names.rateUsed);
  const rateResetsAt = read(names.rateResetsAt);
  if (quotaUsed !== undefined) counters.quotaUsed = quotaUsed;
  if (quotaRenews !== undefined) counters.quotaRenews = quotaRenews;
  if (rateUsed !== undefined) counters.rateUsed = rateUsed;
  if (rateResetsAt !== undefined) counters.rateResetsAt = rateResetsAt;
  return counters;
}

/** A readable name of a scope, for logs and explanations. */
export function scopeName(scope: CounterScope): string {
  return scope === 'key' ? 'key' : `api ${scope.apiId}`;
}
