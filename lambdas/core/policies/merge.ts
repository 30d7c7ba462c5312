import type { Limits } from '../limits/limits.ts';
import type { AccessRight, AllowedUrl, ApiLimit } from '../model/session.ts';

/**
 * How several policies' limits and access rights combine — Tyk's rules, from
 * `internal/policy/apply.go` (`ApplyRateLimits`, the quota branch of `applyPartitions`,
 * `applyAPILevelLimits`) and `internal/policy/util.go` (`MergeAllowedURLs`,
 * `appendIfMissing`, `greaterThanInt64`). Pure functions; `effective.ts` decides which
 * policies take part in which merge.
 */

/**
 * Merges limits as policies set them (a field left out is not set), each field by its own
 * rule, so that a policy that sets no limit never lifts another policy's:
 * - rate: among the policies that set `rate`, the most generous pair — `rate: 0` (no limit)
 *   first, then the highest `rate / per` (exact); on equal ratios the larger `rate` (as
 *   `applyAPILevelLimits` and `ApplyEndpointLevelLimits` do), then the first listed. None
 *   set: no limit.
 * - `quotaMax`: among those that set it, the highest, `-1` (unlimited) above all; none: -1.
 * - `quotaRenewalRate`: the highest set, on its own (Tyk merges it apart from `quotaMax`:
 *   3 per 5 s and 2 per 3600 s give 3 per 3600 s); none: 0 (never renews); 0 when the
 *   quota is unlimited.
 *
 * @example
 * mergeLimits([{ rate: 2, per: 5, quotaMax: 2 }, {}]); // { rate: 2, per: 5, quotaMax: 2, quotaRenewalRate: 0 }
 */
export function mergeLimits(settings: readonly ApiLimit[]): Limits {
  let rate: ApiLimit | undefined;
  let quotaMax: number | undefined;
  let quotaRenewalRate = 0;
  for (const limit of settings) {
    if (limit.rate !== undefined && (rate === undefined || compareRate(limit, rate) > 0)) rate = limit;
    if (limit.quotaMax !== undefined && (quotaMax === undefined || greaterQuota(limit.quotaMax, quotaMax))) quotaMax = limit.quotaMax;
    if (limit.quotaRenewalRate !== undefined && limit.quotaRenewalRate > quotaRenewalRate) quotaRenewalRate = limit.quotaRenewalRate;
  }
  const noRate = rate === undefined || rate.rate === 0;
  return {
    rate: noRate ? 0 : rate!.rate!,
    per: noRate ? 0 : (rate!.per ?? 0),
    quotaMax: quotaMax ?? -1,
    quotaRenewalRate: (quotaMax ?? -1) === -1 ? 0 : quotaRenewalRate,
  };
}

/** True when an API limit sets anything (an empty one is no API limit: the key's limits apply). */
export function setsAnyLimit(limit: ApiLimit | undefined): limit is ApiLimit {
  return limit !== undefined && Object.values(limit).some((value) => value !== undefined);
}

/** > 0 when `a`'s rate limit is strictly more generous than `b`'s. Exact (BigInt cross-multiplication). */
function compareRate(a: ApiLimit, b: ApiLimit): number {
  const [ar, br] = [a.rate ?? 0, b.rate ?? 0];
  if (ar === 0 || br === 0) return (ar === 0 ? 1 : 0) - (br === 0 ? 1 : 0);
  const left = BigInt(ar) * BigInt(b.per ?? 0);
  const right = BigInt(br) * BigInt(a.per ?? 0);
  if (left !== right) return left > right ? 1 : -1;
  return Math.sign(ar - br);
}

/** Tyk's `greaterThanInt64`: -1 (unlimited) is greater than anything. */
function greaterQuota(a: number, b: number): boolean {
  if (a === -1) return b !== -1;
  if (b === -1) return false;
  return a > b;
}

/** An access right without its API limit: what ACL merging combines. */
export type AclRight = Omit<AccessRight, 'limit'>;

/**
 * The union of several access-right maps, as Tyk merges ACLs: every list is merged by
 * union, and a list a policy leaves empty takes no part in it (`appendIfMissing`,
 * `MergeAllowedURLs`). So a policy without a URL list, merged with one that lists `/user`,
 * gives `/user` only; a list that every policy leaves empty stays empty (= everything).
 * - APIs: the union of the APIs listed; maps that list none (`{}`) take no part;
 * - `versions`: the union of the stages listed;
 * - `allowedUrls`: the union of the entries, entries with the same `url` merged with the
 *   union of their `methods`;
 * - `apiName` from the first map that has one. An API's `limit` is not merged here.
 *
 * @example
 * mergeAccessRights([{ api1: {} }, { api1: { allowedUrls: [{ url: '/user', methods: ['GET'] }] } }]);
 * // { api1: { allowedUrls: [{ url: '/user', methods: ['GET'] }] } }
 */
export function mergeAccessRights(maps: readonly Readonly<Record<string, AccessRight>>[]): Record<string, AclRight> {
  // A Map, not an object: an API id such as `__proto__` must stay an ordinary key.
  const merged = new Map<string, AclRight>();
  for (const rights of maps) {
    for (const [apiId, { limit: _limit, ...right }] of Object.entries(rights)) {
      const seen = merged.get(apiId);
      merged.set(apiId, seen === undefined ? right : mergeRight(seen, right));
    }
  }
  return Object.fromEntries(merged);
}

function mergeRight(a: AclRight, b: AclRight): AclRight {
  const versions = union(a.versions, b.versions);
  const allowedUrls = mergeUrls([...(a.allowedUrls ?? []), ...(b.allowedUrls ?? [])]);
  const apiName = a.apiName ?? b.apiName;
  return {
    ...(apiName === undefined ? {} : { apiName }),
    ...(versions.length === 0 ? {} : { versions }),
    ...(allowedUrls.length === 0 ? {} : { allowedUrls }),
  };
}

function mergeUrls(entries: readonly AllowedUrl[]): AllowedUrl[] {
  const byUrl = new Map<string, AllowedUrl>();
  for (const entry of entries) {
    const methods = union(byUrl.get(entry.url)?.methods, entry.methods);
    byUrl.set(entry.url, methods.length === 0 ? { url: entry.url } : { url: entry.url, methods });
  }
  return [...byUrl.values()];
}

function union<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): T[] {
  return [...new Set([...(a ?? []), ...(b ?? [])])];
}
