import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { quotaUsedFor, type Counters } from '../limits/limits.ts';
import type { SessionFields } from '../model/session.ts';
import type { UpdateExpression } from './expression.ts';

/**
 * A session's settings: everything an admin or a plugin sets. The counters
 * (`quotaRemaining` is shown, `quotaUsed` is stored) are not settings.
 */
export type SessionSettings = Omit<SessionFields, 'quotaRemaining' | 'quotaRenews'>;

/** What a session belongs to: an API key or a JWT identity. */
export type SessionKind = 'key' | 'jwt';

/**
 * A session item as stored: settings, their version, and the counters of the key's own
 * scope (top-level attributes; an API's own counters are `<name>@<apiId>`).
 */
export interface StoredSession extends SessionSettings, Counters {
  readonly pk: string;
  readonly keyId: string;
  /** The `kind-index` value: `key#<d>` or `jwt#<d>`, d the first hex digit of the hash (see kind-index.ts). */
  readonly kind?: string;
  /**
   * A random id fixed when the item is created: with `version`, it names one state of the
   * settings that is never reused, even by a deleted and re-created key.
   */
  readonly incarnation?: string;
  /** How many times its counters were reset (reset-quota): the guard of a reset. */
  readonly resets?: number;
  /** The token of the last settings or counter write, to recognise it when it is re-sent after a lost answer. */
  readonly writeToken?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Incremented by every settings write; never by counting. */
  readonly version: number;
  readonly [scoped: `${string}@${string}`]: number | undefined;
}

/** The settings state a counting write is conditioned on. */
export interface SettingsGuard {
  readonly incarnation: string | undefined;
  readonly version: number;
}

/** Settings a write changes; `alias: null` removes the alias. */
export type SettingsChanges = Partial<Omit<SessionSettings, 'alias'>> & { alias?: string | null };

/** Counters an admin or a plugin sets explicitly (the key's own scope). */
export interface CounterSet {
  readonly quotaUsed?: number;
  readonly quotaRenews?: number;
}

/** The guard of an item. */
export function guardOf(item: StoredSession): SettingsGuard {
  return { incarnation: item.incarnation, version: item.version };
}

/** Conditions a write on the settings state a guard names: version and incarnation. */
export function whenSameSettings(x: UpdateExpression, guard: SettingsGuard): void {
  x.when('same settings version', `${x.name('version')} = ${x.value(guard.version)}`);
  x.when(
    'same incarnation',
    guard.incarnation === undefined
      ? `attribute_not_exists(${x.name('incarnation')})`
      : `${x.name('incarnation')} = ${x.value(guard.incarnation)}`,
  );
}

/**
 * The item that made a condition fail. DynamoDB returns it on the exception in raw
 * AttributeValue form, even through the DocumentClient.
 */
export function oldItem(error: ConditionalCheckFailedException): StoredSession | undefined {
  const raw = (error as { Item?: Record<string, never> }).Item;
  return raw === undefined ? undefined : (unmarshall(raw) as StoredSession);
}

/**
 * A public session's fields as stored: its settings, and counters for the `quotaRemaining`
 * and `quotaRenews` it names (`quotaRemaining` read under `quotaMax`, the quota in force —
 * the policies' when the session has any).
 */
export function storedFields(
  fields: SessionFields,
  quotaMax: number = fields.quotaMax,
): { settings: SessionSettings; counters: CounterSet } {
  const { quotaRemaining, quotaRenews, ...settings } = fields;
  return { settings, counters: { quotaUsed: quotaUsedFor(quotaMax, quotaRemaining), quotaRenews } };
}
