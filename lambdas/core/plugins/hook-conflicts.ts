import { PluginError } from '../model/errors.ts';
import type { GatepassPlugin } from './plugin.ts';

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
