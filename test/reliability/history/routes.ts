/**
 * The routes a history sends requests to, the access rights it gives keys and policies,
 * and the reference model's own access check (written from the README's description of
 * `accessRights`, not from the implementation).
 */
import type { AccessRight } from '../../../lambdas/core/model/session.ts';

export type Rights = Readonly<Record<string, AccessRight>>;

export interface Route {
  readonly name: string;
  readonly apiId: string;
  readonly stage: string;
  readonly method: string;
  readonly path: string;
}

export const ROUTES: readonly Route[] = [
  { name: 'GET api1/pets', apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' },
  { name: 'POST api1/pets', apiId: 'api1', stage: 'prod', method: 'POST', path: '/pets' },
  { name: 'GET api1/admin/keys', apiId: 'api1', stage: 'prod', method: 'GET', path: '/admin/keys' },
  { name: 'GET api2/x', apiId: 'api2', stage: 'prod', method: 'GET', path: '/x' },
];

/** Access rights a key may be given (by index), each permitting a different subset of {@link ROUTES}. */
export const RIGHTS: readonly { readonly name: string; readonly rights: Rights }[] = [
  { name: 'every API', rights: {} },
  { name: 'GET /pets only', rights: { api1: { allowedUrls: [{ url: '/pets', methods: ['GET'] }] } } },
  { name: 'all of api1', rights: { api1: {} } },
  { name: '/pets(/n) and api2', rights: { api1: { allowedUrls: [{ url: '/pets(/[0-9]+)?' }] }, api2: { versions: ['prod'] } } },
];

/** The API whose requests a per-API limit counts apart (a scope of its own). */
export const SCOPED_API = 'api2';

/** A per-API limit: every field set, so that none is left to a merge. */
export interface ApiLimitSpec {
  readonly quotaMax: number;
  readonly quotaRenewalRate: number;
  readonly rate: number;
  readonly per: number;
}

/**
 * `rights` with {@link SCOPED_API}'s limit set (or removed, for `undefined`). Rights that
 * name no API (every API) get every route's API listed, so that adding a limit changes
 * no permission.
 */
export function withApiLimit(rights: Rights, limit: ApiLimitSpec | undefined): Rights {
  const listed: Record<string, AccessRight> = Object.keys(rights).length === 0 ? { api1: {}, api2: {} } : { ...rights };
  const { limit: _old, ...right } = listed[SCOPED_API] ?? {};
  if (limit === undefined) {
    if (Object.hasOwn(listed, SCOPED_API)) listed[SCOPED_API] = right;
    return listed;
  }
  listed[SCOPED_API] = { ...right, limit };
  return listed;
}

/** Whether `rights` let a request through to `route` (API, stage, URL and method). */
export function permits(rights: Rights, route: Route): boolean {
  if (Object.keys(rights).length === 0) return true;
  const right = Object.hasOwn(rights, route.apiId) ? rights[route.apiId] : undefined;
  if (right === undefined) return false;
  const versions = right.versions;
  if (versions && versions.length > 0 && !versions.includes('Default') && !versions.includes(route.stage)) return false;
  const urls = right.allowedUrls;
  if (!urls || urls.length === 0) return true;
  return urls.some(
    (u) => new RegExp(`^(?:${u.url})$`).test(route.path) && (!u.methods || u.methods.length === 0 || u.methods.includes(route.method)),
  );
}

/** The index in {@link RIGHTS} of `rights`, for readable traces (-1 when it is none of them). */
export function rightsName(rights: Rights): string {
  const text = JSON.stringify(rights);
  return RIGHTS.find((r) => JSON.stringify(r.rights) === text)?.name ?? text;
}
