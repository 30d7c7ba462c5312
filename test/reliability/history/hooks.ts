/**
 * The plugins a history's instances may run: the renewal hook (renews an expired session
 * for the same request) and the settings hook, which writes the limits a request asks for
 * in a header — as a plugin that grants a plan upgrade on some requests would.
 */
import type { GatepassPlugin } from '../../../lambdas/core/plugins/plugin.ts';

/** The header a request names the settings hook's write in (JSON of the patch). */
export const HOOK_HEADER = 'x-history-hook';

export const renewal: GatepassPlugin = {
  name: 'renew-on-expiry',
  async postAuth(ctx) {
    if (ctx.session.expires > 0 && ctx.session.expires <= ctx.now) await ctx.updateSession({ expires: ctx.now + 60 });
  },
};

export const settingsHook: GatepassPlugin = {
  name: 'write-limits',
  async postAuth(ctx) {
    const raw = ctx.request.headers[HOOK_HEADER];
    if (raw === undefined) return;
    const patch = JSON.parse(raw) as Record<string, number>;
    const session = ctx.session as unknown as Record<string, unknown>;
    if (Object.entries(patch).every(([field, value]) => session[field] === value)) return;
    await ctx.updateSession(patch);
  },
};
