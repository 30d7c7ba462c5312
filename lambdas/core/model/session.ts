import * as z from 'zod';
import { MAX_WINDOW_SECONDS, RATE_NEEDS_PER, rateWithoutPer } from './limit-rules.ts';
import { urlPatternProblem } from './url-pattern.ts';

/**
 * The public session: what the admin API, the plugin API and the CLI see (camelCase,
 * Tyk's fields renamed). The stored item adds `pk`, `ttl` and the rate-limit window
 * counters (see `store.ts`).
 */

const epochSeconds = z.number().int().min(0).max(253_402_300_799); // up to year 9999
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A window length: up to 100 years, so that now + window is still a storable time. */
const windowSeconds = z.number().int().min(0).max(MAX_WINDOW_SECONDS, `must be at most 100 years (${MAX_WINDOW_SECONDS} s)`);

const httpMethod = z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method such as GET');

/** An RE2 regular expression (see `url-pattern.ts`): refused here, when written, if RE2 cannot run it. */
const urlPattern = z.string().superRefine((pattern, ctx) => {
  const problem = urlPatternProblem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const AllowedUrlSchema = z.strictObject({
  url: urlPattern,
  methods: z.array(httpMethod).max(16).optional(),
});

/**
 * An API's own limits (Tyk's `access_rights.{api}.limit`): requests to that API are counted
 * apart from the key's other requests, against these limits. A field left out is not set:
 * it takes no part when policies are merged, and a limit nobody sets is no limit.
 */
export const ApiLimitSchema = z
  .strictObject({
    rate: count.optional(),
    per: windowSeconds.optional(),
    quotaMax: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).optional(),
    quotaRenewalRate: windowSeconds.optional(),
  })
  .superRefine(checkRatePer);

export const AccessRightSchema = z.strictObject({
  apiName: z.string().max(256).optional(),
  versions: z.array(z.string().min(1).max(128)).max(64).optional(),
  allowedUrls: z.array(AllowedUrlSchema).max(256).optional(),
  limit: ApiLimitSchema.optional(),
});

// Numbers DynamoDB cannot store and `__proto__` keys are refused before parsing: see storable.ts.
const metaValue = z.union([z.string().max(4096), z.number(), z.boolean()]);

/** The caller-settable fields, without defaults (the patch schema must not have any). */
const sessionFields = {
  alias: z.string().min(1).max(256),
  expires: epochSeconds,
  quotaMax: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER),
  quotaRemaining: z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER),
  quotaRenewalRate: windowSeconds,
  quotaRenews: epochSeconds,
  rate: count,
  per: windowSeconds,
  accessRights: z.record(z.string().min(1).max(128), AccessRightSchema),
  applyPolicies: z.array(z.string().min(1).max(128)).max(32),
  metaData: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'names are letters, digits, _ or -'), metaValue),
  tags: z.array(z.string().min(1).max(128)).max(64),
  isInactive: z.boolean(),
};

/** Fields a caller may set, with the defaults of a new session (see {@link newSessionFields}). */
export const SessionFieldsSchema = z.strictObject({
  alias: sessionFields.alias.optional(),
  expires: sessionFields.expires.default(0),
  quotaMax: sessionFields.quotaMax.default(-1),
  quotaRemaining: sessionFields.quotaRemaining.optional(),
  quotaRenewalRate: sessionFields.quotaRenewalRate.default(0),
  quotaRenews: sessionFields.quotaRenews.optional(),
  rate: sessionFields.rate.default(0),
  per: sessionFields.per.default(0),
  accessRights: sessionFields.accessRights.default({}),
  applyPolicies: sessionFields.applyPolicies.default([]),
  metaData: sessionFields.metaData.default({}),
  tags: sessionFields.tags.default([]),
  isInactive: sessionFields.isInactive.default(false),
});

/** Read-only fields a client may echo back (from a GET); they are ignored on input. */
const readOnlyFields = {
  keyId: z.unknown().optional(),
  createdAt: z.unknown().optional(),
  updatedAt: z.unknown().optional(),
  version: z.unknown().optional(),
  keys: z.unknown().optional(),
  limits: z.unknown().optional(),
};

/** Body of a create or replace: every field optional, read-only fields ignored. */
export const SessionInputSchema = SessionFieldsSchema.extend(readOnlyFields).superRefine(checkRatePer, { when: always });

/** Body of a partial update: only the fields given change; no defaults are applied. */
export const SessionPatchSchema = z.strictObject(sessionFields).partial().extend(readOnlyFields).extend({
  // `null` removes the alias.
  alias: sessionFields.alias.nullable().optional(),
});

export type SessionInput = z.input<typeof SessionInputSchema>;
export type SessionPatch = z.infer<typeof SessionPatchSchema>;
export type AccessRight = z.infer<typeof AccessRightSchema>;
export type ApiLimit = z.infer<typeof ApiLimitSchema>;
export type AllowedUrl = z.infer<typeof AllowedUrlSchema>;
export type MetaValue = z.infer<typeof metaValue>;

/** A session as gatepass returns it. */
export interface Session {
  /**
   * Present only in the answer to an admin change that landed while DynamoDB throttled the
   * reads after it (a hot key): the key as the change wrote it. `counts`: its counters as the
   * change read them, requests leased to counter items counted as used (`quotaRemaining` may
   * be low; after a reset: none used, and `version` the one the reset read + 1 — the key's
   * may be higher, as a reset is not guarded by the version); `without-policies`: that, and its
   * limits without its policies' (those could not be read either). A `GET` of the key answers
   * it as it is.
   */
  readonly asWritten?: 'counts' | 'without-policies';
  readonly keyId: string;
  readonly alias?: string;
  readonly expires: number;
  readonly quotaMax: number;
  readonly quotaRemaining: number;
  readonly quotaRenewalRate: number;
  readonly quotaRenews: number;
  readonly rate: number;
  readonly per: number;
  readonly accessRights: Readonly<Record<string, AccessRight>>;
  readonly applyPolicies: readonly string[];
  readonly metaData: Readonly<Record<string, MetaValue>>;
  readonly tags: readonly string[];
  readonly isInactive: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly version: number;
  /** After a key rotation: the keys that use this session, each with when it retires (epoch s; 0 = current). Read-only. */
  readonly keys?: readonly { readonly keyId: string; readonly retiresAt: number }[];
}

/** The caller-settable part of a session, with defaults applied. */
export type SessionFields = Omit<Session, 'keyId' | 'createdAt' | 'updatedAt' | 'version' | 'keys'>;

/**
 * `per` must be set with `rate`. Runs even when other fields failed (`when: always`), so
 * that every bad field is named at once; hence the defensive type checks.
 */
function checkRatePer(value: { readonly rate?: unknown; readonly per?: unknown }, ctx: z.RefinementCtx): void {
  if (typeof value !== 'object' || value === null) return;
  if (rateWithoutPer(value.rate, value.per ?? 0) && (value.per === undefined || typeof value.per === 'number')) {
    ctx.addIssue({ code: 'custom', path: ['per'], message: RATE_NEEDS_PER });
  }
}

function always(): boolean {
  return true;
}
