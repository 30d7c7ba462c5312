import { GatepassError } from '../model/errors.ts';
import type { AccessRight, MetaValue } from '../model/session.ts';
import { effectiveSettings, takesPart } from './effective.ts';
import { mergeAccessRights } from './merge.ts';
import type { Policy } from './policy.ts';

/** The fields of a session created from policies (a new window, whole quota): assignable to a parsed `SessionInput`. */
export interface PolicySessionFields {
  expires: number;
  quotaMax: number;
  quotaRenewalRate: number;
  rate: number;
  per: number;
  accessRights: Record<string, AccessRight>;
  applyPolicies: string[];
  metaData: Record<string, MetaValue>;
  tags: string[];
  isInactive: boolean;
}

/**
 * The session a JWT identity gets on first sight (README, "JWT"), from the policies its token
 * names (all found — check `missing` first; at least one):
 * - limits and rights as {@link effectiveSettings} computes them, a full quota window
 *   opening now;
 * - `expires = now + the smallest non-zero keyExpiresIn`, or 0 when every policy says 0;
 * - `applyPolicies` = the policy ids, so later policy changes apply to the session;
 * - `tags` = the union; `metaData` merged, a later policy winning on a shared name;
 * - `isInactive` false: an inactive policy denies through {@link effectiveSettings} on
 *   every request, so reactivating the policy reactivates its sessions.
 *
 * @example
 * const fields = sessionFromPolicies(policies, now);
 * await store.create(jwtSessionPk(iss, sub), identity, fields, now);
 */
export function sessionFromPolicies(policies: readonly Policy[], now: number): PolicySessionFields {
  if (policies.length === 0) {
    // A session without policies would be unlimited: refuse instead (deny `no_matching_policy`).
    throw new GatepassError('ERR_VALIDATION', 'a session needs at least one policy');
  }
  const ids = [...new Set(policies.map((policy) => policy.id))];
  // The session's own rights: the APIs its policies list. They apply when no policy takes part
  // in the rights (all partitioned without acl) — where empty rights would mean every API.
  const listed = mergeAccessRights(policies.map((policy) => policy.accessRights));
  if (Object.keys(listed).length === 0 && !policies.some((policy) => takesPart(policy, 'acl'))) {
    throw new GatepassError('ERR_VALIDATION', 'no policy of the session lists an API or grants access rights');
  }
  const subject = { rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0, accessRights: listed, applyPolicies: ids, isInactive: false };
  const settings = effectiveSettings(subject, policies);
  const lifetimes = policies.map((policy) => policy.keyExpiresIn).filter((seconds) => seconds > 0);
  return {
    expires: lifetimes.length > 0 ? now + Math.min(...lifetimes) : 0,
    ...settings.limits,
    accessRights: settings.accessRights as Record<string, AccessRight>,
    applyPolicies: ids,
    metaData: Object.assign({}, ...policies.map((policy) => policy.metaData)) as Record<string, MetaValue>,
    tags: [...new Set(policies.flatMap((policy) => policy.tags))],
    isInactive: false,
  };
}
