/** Policy ids: what `applyPolicies` and a token's policy claim may name. */

/** Policy ids: letters, digits, `_`, `.` and `-`, 1 to 128 characters. */
export const POLICY_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** True when `id` is a valid policy id. */
export function isPolicyId(id: string): boolean {
  return POLICY_ID_PATTERN.test(id);
}
