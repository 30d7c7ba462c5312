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
 *   request's method. The path is matched as {@link pathToMatch} gives it: an ambiguous
 *   path (dot segments, encoded separators, double encoding) is denied before any pattern
 *   is tried. A path longer than `MAX_MATCHED_PATH_LENGTH` matches no entry, and
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
  const path = pathToMatch(target.path);
  if (path === undefined) return 'url_not_allowed';
  const method = target.method.toUpperCase();
  let work = 0;
  let entries = 0;
  for (const entry of right.allowedUrls) {
    if (entry.methods && entry.methods.length > 0 && !entry.methods.includes(method)) continue;
    if (++entries > MAX_MATCHED_ENTRIES) return 'url_not_allowed'; // bounded compiling: see MAX_MATCHED_ENTRIES
    work += urlPatternWork(entry.url, path.length);
    if (work > MAX_MATCH_WORK) return 'url_not_allowed'; // bounded work: see MAX_MATCH_WORK
    if (urlPatternMatches(entry.url, path)) return 'allowed';
  }
  return 'url_not_allowed';
}

/** Characters RFC 3986 calls unreserved: their percent-encodings mean the character itself. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The path URL patterns are matched against, or `undefined` when the path is ambiguous and
 * must be denied (`url_not_allowed`) before any pattern is tried.
 *
 * Backends and proxies disagree on how to normalise some paths — Tomcat strips `;…` path
 * parameters, IIS and some Java servers read `\` as `/`, some decode `%2F` into a separator
 * and some decode twice — so a pattern such as `/public/.*` could allow a path the backend
 * serves as `/admin`. Rather than guess one normalisation, a path is ambiguous when it has:
 * - a `.` or `..` segment, raw or percent-encoded (`%2e`), also with a `;` path parameter
 *   (`..;`, `..%3B`);
 * - an encoded slash or backslash (`%2F`, `%5C`), or a raw backslash;
 * - an encoded `%` (`%25`: double encoding), or a `%` not followed by two hex digits.
 *
 * Otherwise percent-encodings of unreserved characters (letters, digits, `-._~`) are
 * decoded (`/%7Euser` → `/~user`), and every other encoding is kept as given.
 * Only keys with `allowedUrls` on the API see this rule; other keys' paths are never read.
 *
 * @example
 * pathToMatch('/public/%7Euser');   // '/public/~user'
 * pathToMatch('/public/..%2Fadmin'); // undefined
 * pathToMatch('/public/..;/admin');  // undefined
 */
export function pathToMatch(path: string): string | undefined {
  if (path.includes('\\')) return undefined;
  let ambiguous = false;
  const decoded = path.replace(/%(?<hex>[0-9A-Fa-f]{2})?/g, (encoding, hex: string | undefined) => {
    if (hex === undefined) {
      ambiguous = true; // a lone '%'
      return encoding;
    }
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    if (char === '%' || char === '/' || char === '\\') ambiguous = true;
    return UNRESERVED.test(char) ? char : encoding;
  });
  if (ambiguous) return undefined;
  for (const segment of decoded.split('/')) {
    const name = segment.split(/;|%3[Bb]/, 1)[0];
    if (name === '.' || name === '..') return undefined;
  }
  return decoded;
}

function stageAllowed(versions: readonly string[] | undefined, stage: string): boolean {
  return !versions || versions.length === 0 || versions.includes('Default') || versions.includes(stage);
}
