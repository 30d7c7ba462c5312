export { effectiveSettings, limitsFor, takesPart } from './effective.ts';
export type { EffectiveAccessRight, MergedPolicy, Partitions, PolicySettings, PolicySubject } from './effective.ts';
export { mergeAccessRights, mergeLimits } from './merge.ts';
export { isPolicyId, POLICY_ID_PATTERN } from './policy-id.ts';
export { OPTIONAL_POLICY_FIELDS, PartitionsSchema, parsePolicyInput, PolicyFieldsSchema, PolicyInputSchema } from './policy-schema.ts';
export type { Policy, PolicyFields, PolicyInput } from './policy-schema.ts';

/**
 * Policies (Tyk's rules): named bundles of limits and access rights that sessions
 * reference through `applyPolicies`. This file gathers them: the input schema (zod) is in
 * `policy-schema.ts`, the merge in `effective.ts` and `merge.ts`, policy ids in
 * `policy-id.ts`, a JWT identity's first session in `session-from-policies.ts`, persistence
 * and the authorizer's cache in `policy-store.ts` — all but the schema without zod, which
 * the authorizer loads only when it reads a policy.
 */
