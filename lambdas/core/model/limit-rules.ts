/**
 * The value rules of limits, in one place: the schemas (sessions, policies, per-API limits),
 * the admin service, plugin writes and the Tyk import all apply these.
 */

/**
 * Longest window or lifetime (`per`, `quotaRenewalRate`, `keyExpiresIn`): 100 years of
 * 365.25 days, so that `now + window` (and a rate window's end in ms) stays a storable time.
 */
export const MAX_WINDOW_SECONDS = 3_155_760_000;

/** What is wrong with a `rate` given without a `per`. */
export const RATE_NEEDS_PER = 'must be greater than 0 when rate is set';

/**
 * True when `rate` limits but `per` gives it no window: a rate of requests per 0 seconds.
 * Tolerates values of any type (schemas run it even when the fields themselves are bad).
 *
 * @example
 * rateWithoutPer(5, 0); // true
 * rateWithoutPer(0, 0); // false: no rate limit
 */
export function rateWithoutPer(rate: unknown, per: unknown): boolean {
  return typeof rate === 'number' && rate > 0 && !(typeof per === 'number' && per > 0);
}
