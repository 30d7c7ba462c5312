import { NotFoundError, PluginError, VersionConflictError } from '../model/errors.ts';
import { OrphanPointerError } from '../session/key-resolution.ts';
import type { SessionService } from '../session/service.ts';
import type { StoredSession } from '../store/item.ts';
import type { GatepassPlugin } from './plugin.ts';

/**
 * The request's session while hooks run. Hooks that write it (`updateSession`, `auth`,
 * `sessions.set` on the request's own key) replace it with the item as written (I4).
 */
export interface RequestSession {
  pk: string | undefined;
  session: StoredSession | undefined;
  /** A hook wrote the session: its settings are as written, its counters as read before (others may have counted since). */
  written: boolean;
  /** Whether a session takes the request's presented key (a rotation, a delete may end that while hooks run). @default all */
  takes?: (session: StoredSession) => boolean;
}

/** Times the `postAuth` chain runs again after a hook lost a write to a concurrent request, before failing closed. */
export const MAX_HOOK_ATTEMPTS = 8;

/** Signals a `postAuth` write lost to a concurrent one; the runner runs the chain again. */
export class HookConflict extends Error {
  constructor(cause: Error) {
    super('session changed concurrently', { cause });
  }
}

/** The request's key was deleted while its hooks ran. */
export class HookGone extends Error {}

/** The fault a chain that kept losing its writes fails closed with (any other error as it is). */
export function unwrapConflict(plugin: GatepassPlugin, error: unknown): unknown {
  return error instanceof HookConflict
    ? new PluginError(plugin.name, `postAuth lost ${MAX_HOOK_ATTEMPTS} writes in a row to concurrent requests`)
    : error;
}

/**
 * Whether a write made from a session read lost to a change landed since: the key moved on
 * to another version (`VersionConflictError`) or was deleted (`NotFoundError`). Nothing of
 * it was written.
 */
export function isLostWrite(error: unknown): error is VersionConflictError | NotFoundError {
  return error instanceof VersionConflictError || (error instanceof NotFoundError && !(error instanceof OrphanPointerError));
}

/**
 * What a `postAuth` hook's lost write (`isLostWrite`; any other error as it is) means for its
 * request, whose session `state` holds: the chain runs again on the session as it is now
 * (`HookConflict`, `state` updated), or the key is gone (`HookGone`: deleted, or no longer
 * taking the request's key). No hook's check is
 * carried across a change it has not seen.
 */
export async function lostWrite(error: unknown, state: RequestSession, sessions: SessionService): Promise<unknown> {
  if (!isLostWrite(error) || state.pk === undefined) return error;
  const current = error instanceof VersionConflictError ? (error.current as StoredSession | undefined) : undefined;
  // Deleted since it was read (and maybe re-created: another key's life): judge what is there now.
  const fresh = current?.pk === state.pk ? current : await sessions.read(state.pk);
  // Gone for this request too when it no longer takes the presented key (rotated out; another life): no hook runs for it.
  if (fresh === undefined || state.takes?.(fresh) === false) return new HookGone();
  state.session = fresh;
  state.written = false;
  return new HookConflict(error);
}
