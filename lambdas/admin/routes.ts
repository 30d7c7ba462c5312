import { NotFoundError, VersionConflictError, AlreadyExistsError } from '../core/model/errors.ts';
import { InvalidInputError, type KeyService } from './key-service.ts';
import { HttpError, json } from './http.ts';
import { keyRoutes } from './key-routes.ts';
import type { Route, RouteHandler } from './route.ts';
import type { UsageReader } from '../core/usage/usage-reader.ts';
import { usageRoutes } from './usage-routes.ts';

// Re-exported: the handler and the policy routes name them from here.
export type { Route, RouteHandler };

/** The admin API's routes: `/health`, the key routes and a key's usage (policies: `policy-routes.ts`). */
export function routes(keys: KeyService, usage: UsageReader): Route[] {
  return [
    { method: 'GET', pattern: /^\/health$/, handle: async () => json(200, { status: 'ok' }) },
    ...keyRoutes(keys),
    ...usageRoutes(usage),
  ];
}

/** Finds the route for a request: 404 for an unknown path, 405 for a known path with another method. */
export function match(table: readonly Route[], method: string, path: string): { handle: RouteHandler; params: Record<string, string> } {
  let pathKnown = false;
  for (const route of table) {
    const found = route.pattern.exec(path);
    if (!found) continue;
    pathKnown = true;
    if (route.method === method) return { handle: route.handle, params: { ...found.groups } };
  }
  if (pathKnown) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
  throw new HttpError(404, 'not_found', `no route for ${method} ${path}`);
}

/** Maps domain errors to HTTP errors; anything else is a fault (500, logged, no details). */
export function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof InvalidInputError) return new HttpError(400, 'invalid_fields', error.message, error.details);
  if (error instanceof NotFoundError) return new HttpError(404, 'not_found', error.message);
  if (error instanceof AlreadyExistsError) return new HttpError(409, 'already_exists', error.message);
  if (error instanceof VersionConflictError) {
    const version = (error.current as { version?: number } | undefined)?.version;
    return new HttpError(409, 'version_conflict', error.message, { currentVersion: version });
  }
  return undefined;
}
