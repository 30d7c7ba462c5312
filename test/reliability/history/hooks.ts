/**
 * The plugins a history's instances may run: the renewal hook (renews an expired session
 * for the same request) and the settings hook, which writes the limits a request asks for
 * in a header — as a plugin that grants a plan upgrade on some requests would. An API key's
 * quota it writes Tyk-style, saving back the session it read (`sessions.set` of
 * `{ ...ctx.session, quotaMax }`: written only at the version read); the rest with
 * `updateSession`. Both are the same write for the model: a settings change guarded by the
 * version the hook saw, the hooks run again on the fresh session when it lost.
 */
import type { GatepassPlugin, SessionInit } from '../../../lambdas/core/plugins/plugin.ts';

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
    const key = ctx.request.headers.authorization!;
    if ('quotaMax' in patch && !key.startsWith('Bearer ')) await ctx.sessions.set(key, { ...ctx.session, ...patch } as SessionInit);
    else await ctx.updateSession(patch);
  },
};
