import type { AccessRight } from '../model/session.ts';

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
 * - `allowedUrls` omitted or empty = every path; otherwise some entry's `url` (a regular
 *   expression anchored at both ends) must match the whole path, and its `methods`
 *   (omitted or empty = every method) must include the request's method.
 *
 * @example
 * checkAccessRights({ api1: { allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] } },
 *   { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets/42' }); // 'allowed'
 */
export function checkAccessRights(
  rights: Readonly<Record<string, AccessRight>>,
  target: RequestTarget,
): AccessVerdict {
  if (Object.keys(rights).length === 0) return 'allowed';
  const right = Object.hasOwn(rights, target.apiId) ? rights[target.apiId] : undefined;
  if (right === undefined) return 'api_not_allowed';
  if (!stageAllowed(right.versions, target.stage)) return 'api_not_allowed';
  if (!right.allowedUrls || right.allowedUrls.length === 0) return 'allowed';
  const method = target.method.toUpperCase();
  const allowed = right.allowedUrls.some(
    (entry) =>
      anchored(entry.url).test(target.path) &&
      (!entry.methods || entry.methods.length === 0 || entry.methods.includes(method)),
  );
  return allowed ? 'allowed' : 'url_not_allowed';
}

function stageAllowed(versions: readonly string[] | undefined, stage: string): boolean {
  return !versions || versions.length === 0 || versions.includes('Default') || versions.includes(stage);
}

/** Compiled, anchored patterns. Bounded: patterns come from admins, not callers. */
const compiled = new Map<string, RegExp>();
const MAX_COMPILED = 1000;

function anchored(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    regex = new RegExp(`^(?:${pattern})$`);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}
