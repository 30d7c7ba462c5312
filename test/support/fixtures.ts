/**
 * Shared test fixtures: a fixed instant, a stored session and a policy with neutral defaults,
 * and a log that keeps what it is given. The defaults are the plainest possible (an active key
 * with no limits, no rights and no expiry; a policy that sets nothing but "no limit"), so a
 * test names every field it relies on.
 *
 * @example
 * const session = storedSession({ quotaMax: 5, quotaUsed: 5, quotaRenewalRate: 60, quotaRenews: NOW + 30 });
 * const log = recordingLog();
 * expect(log.at('warn')).toEqual([expect.objectContaining({ fields: { kid: 'k1' } })]);
 */
import type { Log } from '../../lambdas/core/model/log.ts';
import type { Policy } from '../../lambdas/core/policies/policy.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';

/** A fixed instant (2023-11-14T22:13:20Z), epoch seconds, for tests that need no instant of their own. */
export const NOW = 1_700_000_000;
/** {@link NOW} in epoch milliseconds. */
export const NOW_MS = NOW * 1000;

/** The key id of a {@link storedSession} unless overridden (a SHA-256 in hex). */
export const KEY_ID = 'a'.repeat(64);

/**
 * A session item as the store holds it: an active key with no rate limit, an unlimited quota
 * with nothing used, no access rights (= every API), no policies and no expiry, created at
 * {@link NOW}, version 1. `pk` follows `keyId` unless given.
 */
export function storedSession(overrides: Partial<StoredSession> = {}): StoredSession {
  const keyId = overrides.keyId ?? KEY_ID;
  return {
    pk: `key#${keyId}`,
    keyId,
    expires: 0,
    quotaMax: -1,
    quotaUsed: 0,
    quotaRenewalRate: 0,
    quotaStart: NOW * 1000,
    rate: 0,
    per: 0,
    accessRights: {},
    applyPolicies: [],
    metaData: {},
    tags: [],
    isInactive: false,
    createdAt: NOW,
    updatedAt: NOW,
    version: 1,
    ...overrides,
  };
}

/** A stored policy named `id`: active, no rate limit, an unlimited quota, no rights, keys that never expire. */
export function storedPolicy(id: string, overrides: Partial<Policy> = {}): Policy {
  return {
    id,
    rate: 0,
    per: 0,
    quotaMax: -1,
    quotaRenewalRate: 0,
    accessRights: {},
    keyExpiresIn: 0,
    tags: [],
    metaData: {},
    isInactive: false,
    version: 1,
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  } as Policy;
}

export type LogLevel = keyof Log;

/** One call to a {@link RecordingLog}: its level, its message and its extra fields merged into one object. */
export interface LogEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A {@link Log} that keeps every entry, in order. */
export interface RecordingLog extends Log {
  readonly entries: LogEntry[];
  /** The entries of one level, in order. */
  at(level: LogLevel): LogEntry[];
}

export function recordingLog(): RecordingLog {
  const entries: LogEntry[] = [];
  const record =
    (level: LogLevel) =>
    (message: string, ...extra: Record<string, unknown>[]): void => {
      entries.push({ level, message, fields: Object.assign({}, ...extra) as Record<string, unknown> });
    };
  return {
    entries,
    at: (level) => entries.filter((entry) => entry.level === level),
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}
