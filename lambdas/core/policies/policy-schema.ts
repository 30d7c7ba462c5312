import * as z from 'zod';
import { MAX_WINDOW_SECONDS, RATE_NEEDS_PER, rateWithoutPer } from '../model/limit-rules.ts';
import { SessionFieldsSchema } from '../model/session.ts';

/**
 * A policy's input schema (zod) and the types it defines. Apart from `policy.ts`, which
 * gathers everything about policies for the admin API and the tests, so that the one module
 * the authorizer imports when it first reads a policy (`policy-store.ts`) holds the schema
 * alone: the merge (`effective.ts`, `merge.ts`), which every request uses, stays in the
 * authorizer's start-up code instead of a chunk of its own shared with this one.
 */

const session = SessionFieldsSchema.shape;

/** Longest `keyExpiresIn`: 100 years, so that `now + keyExpiresIn` stays a valid epoch. */
const MAX_KEY_EXPIRES_IN = MAX_WINDOW_SECONDS;

/** Which parts of the policy take part in a merge (Tyk's `partitions`); none set = all of them. */
export const PartitionsSchema = z.strictObject({
  quota: z.boolean().optional(),
  rateLimit: z.boolean().optional(),
  acl: z.boolean().optional(),
  perApi: z.boolean().optional(),
});

/**
 * Fields a caller may set, with the same value rules as the session's fields. The limits
 * are optional: a policy that leaves one out does not set it, and takes no part in merging
 * it (an access-only policy never lifts another policy's limits).
 */
export const PolicyFieldsSchema = z.strictObject({
  name: z.string().min(1).max(256).optional(),
  rate: session.rate.unwrap().optional(),
  per: session.per.unwrap().optional(),
  quotaMax: session.quotaMax.unwrap().optional(),
  quotaRenewalRate: session.quotaRenewalRate.unwrap().optional(),
  accessRights: session.accessRights,
  partitions: PartitionsSchema.optional(),
  /** Lifetime, in s, of a session created from this policy (JWT first sight); 0 = never expires. */
  keyExpiresIn: z.number().int().min(0).max(MAX_KEY_EXPIRES_IN).default(0),
  tags: session.tags,
  metaData: session.metaData,
  isInactive: session.isInactive,
});

/** Fields a replacing write removes when the new body leaves them out. */
export const OPTIONAL_POLICY_FIELDS: readonly (keyof PolicyFields)[] = [
  'name',
  'rate',
  'per',
  'quotaMax',
  'quotaRenewalRate',
  'partitions',
];

/**
 * Body of `PUT /policies/{id}`: every field optional, read-only fields a client may echo
 * back from a GET accepted and ignored.
 *
 * @example
 * PolicyInputSchema.parse({ rate: 10, per: 1 }).quotaMax; // undefined: this policy sets no quota
 */
export const PolicyInputSchema = PolicyFieldsSchema.extend({
  id: z.unknown().optional(),
  version: z.unknown().optional(),
  createdAt: z.unknown().optional(),
  updatedAt: z.unknown().optional(),
}).superRefine(checkPolicy, { when: always });

export type PolicyInput = z.input<typeof PolicyInputSchema>;
/** A validated policy body, defaults applied, read-only fields dropped. */
export type PolicyFields = z.output<typeof PolicyFieldsSchema>;

/** A policy as stored and returned by the admin API. */
export type Policy = Readonly<PolicyFields> & {
  readonly id: string;
  /** Incremented on every write; the guard for `If-Match`. */
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
};

/** Validates a policy body; `error` is zod's, for `fieldProblems`. */
export function parsePolicyInput(body: unknown): z.ZodSafeParseResult<PolicyFields> {
  const result = PolicyInputSchema.safeParse(body);
  if (!result.success) return result;
  const { id: _i, version: _v, createdAt: _c, updatedAt: _u, ...fields } = result.data;
  return { success: true, data: fields };
}

/**
 * Rules across fields. Runs even when other fields are bad (`when: always`), so that every
 * bad field is named at once; hence the defensive type checks.
 * - `per` > 0 when `rate` > 0;
 * - `partitions.perApi` cannot be combined with the other partitions (Tyk refuses to apply
 *   such a policy), and needs `accessRights` listing at least one API;
 * - an API's `limit` applies only in a per-API policy (Tyk ignores it elsewhere).
 */
function checkPolicy(value: unknown, ctx: z.RefinementCtx): void {
  if (typeof value !== 'object' || value === null) return; // not an object: zod names the body
  const { rate, per, partitions, accessRights } = value as Record<string, unknown>;
  if (rateWithoutPer(rate, per) && (per === undefined || typeof per === 'number')) {
    ctx.addIssue({ code: 'custom', path: ['per'], message: RATE_NEEDS_PER });
  }
  const parts = typeof partitions === 'object' && partitions !== null ? (partitions as Record<string, unknown>) : {};
  const perApi = parts.perApi === true;
  if (perApi && (parts.quota === true || parts.rateLimit === true || parts.acl === true)) {
    ctx.addIssue({ code: 'custom', path: ['partitions', 'perApi'], message: 'cannot be combined with quota, rateLimit or acl' });
  }
  if (typeof accessRights !== 'object' || accessRights === null) return;
  if (perApi && Object.keys(accessRights).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['accessRights'], message: 'must list at least one API when partitions.perApi is set' });
  }
  if (perApi) return;
  for (const [apiId, right] of Object.entries(accessRights)) {
    if (typeof right === 'object' && right !== null && 'limit' in right) {
      ctx.addIssue({ code: 'custom', path: ['accessRights', apiId, 'limit'], message: 'applies only when partitions.perApi is set' });
    }
  }
}

function always(): boolean {
  return true;
}
