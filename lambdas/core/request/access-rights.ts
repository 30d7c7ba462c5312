import type { AccessRight } from '../model/session.ts';
import { MAX_MATCH_WORK, MAX_MATCHED_ENTRIES, urlPatternMatches, urlPatternWork } from '../model/url-pattern.ts';

/** Where a request is going, as far as access rights care. */
export interface RequestTarget {
  readonly apiId: string;
  readonly stage: string;
  readonly method: string;
  readonly path: string;
}

export type AccessVerdict = 'allowed' | 'api_not_allowed' | 'url_not_allowed';

/**
 * Checks a session's access rights against a request (Tyk semantics):
 * - no rights (`{}`) = every API;
 * - otherwise the request's API must be listed;
 * - `versions` match the stage; omitted, empty or containing `"Default"` = every stage;
 * - `allowedUrls` omitted or empty = every path; otherwise some entry's `url` (an RE2
 *   regular expression, matched in linear time and anchored at both ends) must match the
 *   whole path, and its `methods` (omitted or empty = every method) must include the
 *   request's method. A path longer than `MAX_MATCHED_PATH_LENGTH` matches no entry, and
 *   matching stops (denied) past `MAX_MATCH_WORK`.
 *
 * @example
 * checkAccessRights({ api1: { allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] } },
 *   { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets/42' }); // 'allowed'
 */
export function checkAccessRights(rights: Readonly<Record<string, AccessRight>>, target: RequestTarget): AccessVerdict {
  if (Object.keys(rights).length === 0) return 'allowed';
  const right = Object.hasOwn(rights, target.apiId) ? rights[target.apiId] : undefined;
  if (right === undefined) return 'api_not_allowed';
  if (!stageAllowed(right.versions, target.stage)) return 'api_not_allowed';
  if (!right.allowedUrls || right.allowedUrls.length === 0) return 'allowed';
  const method = target.method.toUpperCase();
  let work = 0;
  let entries = 0;
  for (const entry of right.allowedUrls) {
    if (entry.methods && entry.methods.length > 0 && !entry.methods.includes(method)) continue;
    if (++entries > MAX_MATCHED_ENTRIES) return 'url_not_allowed'; // bounded compiling: see MAX_MATCHED_ENTRIES
    work += urlPatternWork(entry.url, target.path.length);
    if (work > MAX_MATCH_WORK) return 'url_not_allowed'; // bounded work: see MAX_MATCH_WORK
    if (urlPatternMatches(entry.url, target.path)) return 'allowed';
  }
  return 'url_not_allowed';
}

function stageAllowed(versions: readonly string[] | undefined, stage: string): boolean {
  return !versions || versions.length === 0 || versions.includes('Default') || versions.includes(stage);
}
