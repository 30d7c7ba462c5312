import type { Counters } from './limits.ts';

/**
 * Where a request's counters live. `key` is the session's own counters; an API id is that
 * API's counters, used when the key has per-API limits for it. Each scope's counters are
 * top-level attributes of the session item (top-level, so that a first write can create
 * them without a parent map).
 */
export type CounterScope = 'key' | { readonly apiId: string };

/** The attribute names of one scope's counters. */
export type CounterAttributes = { readonly [K in keyof Required<Counters>]: string };

/** The counters of every scope, by their names in the key's own scope. */
export const COUNTER_FIELDS = ['quotaUsed', 'quotaStart', 'rateUsed', 'rateStart'] as const satisfies readonly (keyof Counters)[];

/** Attribute names of a scope: `quotaUsed`, or `quotaUsed@<apiId>` for an API's own counters. */
export function counterAttributes(scope: CounterScope): CounterAttributes {
  const suffix = scope === 'key' ? '' : `@${scope.apiId}`;
  return {
    quotaUsed: `quotaUsed${suffix}`,
    quotaStart: `quotaStart${suffix}`,
    rateUsed: `rateUsed${suffix}`,
    rateStart: `rateStart${suffix}`,
  };
}

/** True when an item attribute holds a counter (of any scope). */
export function isCounterAttribute(name: string): boolean {
  return COUNTER_FIELDS.some((field) => name === field || name.startsWith(`${field}@`));
}

/** A scope's counters read off an item. */
export function countersOf(stored: object, scope: CounterScope): Counters {
  const item = stored as Readonly<Record<string, unknown>>;
  const names = counterAttributes(scope);
  const counters: { -readonly [K in keyof Counters]: Counters[K] } = {};
  for (const field of COUNTER_FIELDS) {
    const value = item[names[field]];
    if (typeof value === 'number') counters[field] = value;
  }
  return counters;
}

/** A readable name of a scope, for logs and explanations. */
export function scopeName(scope: CounterScope): string {
  return scope === 'key' ? 'key' : `api ${scope.apiId}`;
}
