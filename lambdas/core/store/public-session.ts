import { quotaRemaining, type Limits } from '../limits/limits.ts';
import type { Session } from '../model/session.ts';
import type { StoredSession } from './item.ts';

/** The fields of the public session, in the order the admin API shows them. */
const PUBLIC_FIELDS = [
  'keyId',
  'alias',
  'expires',
  'quotaMax',
  'quotaRemaining',
  'quotaRenewalRate',
  'quotaRenews',
  'rate',
  'per',
  'accessRights',
  'applyPolicies',
  'metaData',
  'tags',
  'isInactive',
  'createdAt',
  'updatedAt',
  'version',
] as const satisfies ReadonlyArray<keyof Session>;

/**
 * The session as the admin API, the CLI and plugins see it: the public fields only, with
 * `quotaRemaining` derived from the stored count under `limits` — the limits in force (its
 * policies' when it has any) — at `now` (epoch s): the whole quota once the window is over,
 * -1 when unlimited.
 */
export function toPublicSession(item: StoredSession, limits: Limits, now: number): Session {
  const derived: Record<string, unknown> = {
    ...item,
    quotaRemaining: quotaRemaining(limits, item, now),
    quotaRenews: item.quotaRenews ?? 0,
  };
  const session: Record<string, unknown> = {};
  for (const field of PUBLIC_FIELDS) if (derived[field] !== undefined) session[field] = derived[field];
  return session as unknown as Session;
}
