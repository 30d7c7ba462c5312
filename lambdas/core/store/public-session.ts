import { quotaRemaining, quotaRenews, type Limits } from '../limits/limits.ts';
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
 * `quotaRemaining` and `quotaRenews` derived from the stored counters under `limits` — the
 * limits in force (its policies' when it has any) — at `nowMs`: the whole quota once the
 * window is over, -1 when unlimited; `quotaRenews` 0 when the quota never renews.
 */
export function toPublicSession(item: StoredSession, limits: Limits, nowMs: number): Session {
  const derived: Record<string, unknown> = {
    ...item,
    quotaRemaining: quotaRemaining(limits, item, nowMs),
    quotaRenews: quotaRenews(limits, item),
  };
  const session: Record<string, unknown> = {};
  for (const field of PUBLIC_FIELDS) if (derived[field] !== undefined) session[field] = derived[field];
  // After a rotation: the keys that use the session and when each retires (0 = current).
  if (item.keyIds !== undefined) session.keys = Object.entries(item.keyIds).map(([keyId, retiresAt]) => ({ keyId, retiresAt }));
  return session as unknown as Session;
}
