import type { SessionFields, SessionInputSchema } from './session.ts';
import type * as z from 'zod';

/**
 * What a session's fields mean over time: the defaults of a new session and when one has
 * expired. No zod here (the schemas are in `session.ts`): the authorizer's decision path
 * imports this, and loads zod only when a request needs a schema.
 */

/**
 * Applies the defaults of a new session: `quotaRemaining` = `quotaMax`, `quotaRenews` =
 * now + `quotaRenewalRate` (with a rate of 0 the quota never renews and it is only shown).
 */
export function newSessionFields(input: z.output<typeof SessionInputSchema>, now: number): SessionFields {
  return {
    ...(input.alias === undefined ? {} : { alias: input.alias }),
    expires: input.expires,
    quotaMax: input.quotaMax,
    quotaRemaining: input.quotaRemaining ?? input.quotaMax,
    quotaRenewalRate: input.quotaRenewalRate,
    quotaRenews: input.quotaRenews ?? now + input.quotaRenewalRate,
    rate: input.rate,
    per: input.per,
    accessRights: input.accessRights,
    applyPolicies: input.applyPolicies,
    metaData: input.metaData,
    tags: input.tags,
    isInactive: input.isInactive,
  };
}

/** Expired when `expires > 0 && now >= expires` (`expires: 0` = never). */
export function isExpired(expires: number, now: number): boolean {
  return expires > 0 && now >= expires;
}
