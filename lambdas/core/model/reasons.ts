/**
 * Denial reasons: stable codes, with Tyk's messages where Tyk has one.
 * The REST API answer is 401 for `missing_credential` and 403 for every other reason.
 */
export const REASONS = {
  missing_credential: 'Authorization field missing',
  key_not_found: 'Access to this API has been disallowed',
  key_inactive: 'Key is inactive, please renew',
  session_expired: 'Key has expired, please renew',
  api_not_allowed: 'Access to this API has been disallowed',
  url_not_allowed: 'Access to this resource has been disallowed',
  rate_limited: 'Rate Limit Exceeded',
  quota_exceeded: 'Quota exceeded',
  token_invalid: 'Key not authorized',
  token_expired: 'Key not authorized: token has expired',
  token_not_yet_valid: 'Key not authorized: token not valid yet (check clock skew)',
  no_matching_policy: 'Key not authorized: no matching policy',
  plugin_denied: 'Access denied by plugin',
  /**
   * Authorizer result caching is on and the key's rights restrict URLs or methods: a cached
   * Allow would cover the caller's other routes, so the key cannot be used on that API.
   */
  url_rights_not_cacheable: 'Key not authorized: URL rights need authorizer caching off',
} as const;

export type Reason = keyof typeof REASONS;

/** HTTP status the REST API answers for a denial with this reason. */
export function statusForReason(reason: string): 401 | 403 {
  return reason === 'missing_credential' ? 401 : 403;
}
