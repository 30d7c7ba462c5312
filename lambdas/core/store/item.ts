import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { quotaStartFor, quotaUsedFor, type Counters, type Limits } from '../limits/limits.ts';
import { isCounterAttribute } from '../limits/scope.ts';
import type { SessionFields } from '../model/session.ts';
import type { UpdateExpression } from './expression.ts';

/**
 * A session's settings: everything an admin or a plugin sets. The counters
 * (`quotaRemaining` and `quotaRenews` are shown, `quotaUsed` and `quotaStart` are stored) are not settings.
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
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Incremented by every settings write; never by counting. */
  readonly version: number;
  /**
   * The keys that may use this session after a rotation: key id → when it retires (epoch s;
   * 0 = current). Absent: only the session's own key. A setting, guarded like the others.
   */
  readonly keyIds?: Readonly<Record<string, number>>;
  /**
   * Counter items the key's counts are spread over (a hot key; see `counter-items.ts`).
   * Absent: the key counts on this item. Not a setting: it changes with load, never the version.
   */
  readonly shards?: number;
  /** The policy versions the leases on the counter items were taken under (`id:version,…`). */
  readonly leaseTag?: string;
  /** Epoch ms of the last lease taken (a hot key's fills; see `counter-items.ts`). */
  readonly filledAt?: number;
  readonly [scoped: `${string}@${string}`]: number | undefined;
}

/**
 * The item a rotated-in key's own partition key holds: where its session lives. Written once,
 * with the rotation that made the key; never changed (so an instance may remember it).
 */
export interface KeyPointer {
  readonly pk: string;
  readonly keyId: string;
  readonly sessionPk: string;
}

/** True when an item read at a key's partition key is a pointer to another key's session. */
export function isKeyPointer(item: object | undefined): item is KeyPointer {
  return item !== undefined && typeof (item as { sessionPk?: unknown }).sessionPk === 'string';
}

/** Whether `session` names the key `keyId`: its own key, or one rotated into it (retired or not) whose pointer it has not ended. */
export function namesKey(session: StoredSession, keyId: string): boolean {
  return session.keyIds === undefined ? keyId === session.keyId : session.keyIds[keyId] !== undefined;
}

/** Whether the key `keyId` may use `session` at `now` (epoch s): a key it names, not yet retired. */
export function keyAccepted(session: StoredSession, keyId: string, now: number): boolean {
  if (!namesKey(session, keyId)) return false;
  const retires = session.keyIds?.[keyId];
  return retires === undefined || retires === 0 || now < retires;
}

/**
 * What every write to a session is conditioned on: the life of the key it read (its
 * `incarnation`) and, for every write but a reset or an unconditional delete, the settings
 * version it was decided under. No write can leave it out, so none lands on a re-created key.
 */
export interface WriteGuard {
  readonly incarnation: string | undefined;
  readonly version?: number;
  /**
   * The counter items the caller saw (`shards`; absent = none). A change revokes their leases
   * in its own transaction; if the key grew or shrank meanwhile, the store sends it again with
   * the number in force (this is not a condition the caller chose).
   */
  readonly shards?: number;
  /**
   * The key's `expires` as the caller read it (absent: not known). With the version, it is the key's own: a change
   * that keeps the leases gives the counter items the TTL that follows it (see `counterItemTtl`). Not a condition.
   */
  readonly expires?: number;
}

/** The guard of a counting or settings write: always a version. */
export interface SettingsGuard extends WriteGuard {
  readonly version: number;
}

/** Settings a write changes; `alias: null` removes the alias. */
export type SettingsChanges = Partial<Omit<SessionSettings, 'alias'>> & {
  alias?: string | null;
  keyIds?: Readonly<Record<string, number>>;
};

/** Counters an admin or a plugin sets explicitly (attribute names of any scope → value). */
export type CounterSet = Readonly<Record<string, number>>;

/** The fields a change names: those with a value (`null` too: it removes the field); `undefined` names nothing. */
export function namedFields(fields: object | undefined): string[] {
  return Object.entries(fields ?? {}).flatMap(([field, value]) => (value === undefined ? [] : [field]));
}

/** The guard of an item. */
export function guardOf(item: StoredSession): SettingsGuard {
  return { incarnation: item.incarnation, version: item.version };
}

/** Conditions a write on what its guard names: the key exists, in the same life, at the same settings version. */
export function whenGuard(x: UpdateExpression, guard: WriteGuard): void {
  x.when('the key exists', `attribute_exists(${x.name('pk')})`);
  if (guard.version !== undefined) x.when('same settings version', `${x.name('version')} = ${x.value(guard.version)}`);
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
 * A public session's fields as stored: its settings, and the key scope's counters for the
 * `quotaRemaining` and `quotaRenews` it names, read under `limits` — the limits in force
 * (the policies' when the session has any).
 */
export function storedFields(fields: SessionFields, limits: Limits): { settings: SessionSettings; counters: CounterSet } {
  const { quotaRemaining, quotaRenews, ...settings } = fields;
  return { settings, counters: quotaCounters(limits, quotaRemaining, quotaRenews) };
}

/**
 * The key scope's quota counters that an admin or a plugin means by `quotaRemaining` and
 * `quotaRenews` (either may be left out): requests used under the quota in force, and the
 * window start that makes it renew then under the renewal rate in force.
 */
export function quotaCounters(limits: Limits, quotaRemaining: number | undefined, quotaRenews: number | undefined): CounterSet {
  const counters: Record<string, number> = {};
  if (quotaRemaining !== undefined) counters.quotaUsed = quotaUsedFor(limits.quotaMax, quotaRemaining);
  if (quotaRenews !== undefined) counters.quotaStart = quotaStartFor(quotaRenews, limits.quotaRenewalRate);
  return counters;
}

/** `known` (settings) with the counts of `seen` (a session item this instance saw moments ago, at the same version). */
export function withCountsOf(known: StoredSession, seen: StoredSession | undefined): StoredSession {
  const counts: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(seen ?? {})) if (isCounterAttribute(name)) counts[name] = value;
  return { ...withoutCounts(known), ...counts } as unknown as StoredSession;
}

function withoutCounts(item: StoredSession): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).filter(([name]) => !isCounterAttribute(name)));
}
