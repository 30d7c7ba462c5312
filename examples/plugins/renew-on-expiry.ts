/**
 * renew-on-expiry: the case gatepass was built for (README, "Why"). A `postAuth` hook that renews a session whose
 * `expires` is past, or within `within` seconds, to `now + extendBy` — and the request
 * that triggered the renewal is checked against the renewed session (read-your-writes).
 *
 * Plugins are loaded as modules: the default export is the plugin with the defaults.
 * For other settings, write a one-line module of your own:
 *
 * @example
 * // plugins/renew-hourly.ts
 * import { renewOnExpiry } from './renew-on-expiry.ts';
 * export default renewOnExpiry({ name: 'renew-hourly', extendBy: 3600, resetQuota: true });
 */
import type { GatepassPlugin, SessionPatch } from '../../lambdas/core/plugins/plugin.ts';

export interface RenewOnExpiryOptions {
  /** The plugin's name, as logged and as listed in the config. @default 'renew-on-expiry' */
  readonly name?: string;
  /** Renew when the session expires within this many seconds (or already has). @default 5 */
  readonly within?: number;
  /** The renewed session expires this many seconds from now. @default 60 */
  readonly extendBy?: number;
  /**
   * Also start a fresh quota window: `quotaRemaining = quotaMax`,
   * `quotaRenews = now + quotaRenewalRate` (the session's own fields, not its policies'). @default false
   */
  readonly resetQuota?: boolean;
}

export const DEFAULT_WITHIN_SECONDS = 5;
export const DEFAULT_EXTEND_BY_SECONDS = 60;

/**
 * Builds a renew-on-expiry plugin. Options are checked here, so a bad setting fails the
 * plugin's load (every request 500) rather than a request.
 */
export function renewOnExpiry(options: RenewOnExpiryOptions = {}) {
  const name = options.name ?? 'renew-on-expiry';
  const within = options.within ?? DEFAULT_WITHIN_SECONDS;
  const extendBy = options.extendBy ?? DEFAULT_EXTEND_BY_SECONDS;
  const resetQuota = options.resetQuota ?? false;
  if (!Number.isInteger(within) || within < 0) throw new TypeError(`${name}: within must be an integer >= 0, got ${within}`);
  if (!Number.isInteger(extendBy) || extendBy < 1) throw new TypeError(`${name}: extendBy must be an integer >= 1, got ${extendBy}`);

  return {
    name,
    async postAuth(ctx) {
      const { session, now } = ctx;
      // 0 = never expires; an inactive key is denied anyway, so don't extend it.
      if (session.expires === 0 || session.expires > now + within || session.isInactive) return;
      const patch: SessionPatch = resetQuota
        ? { expires: now + extendBy, quotaRemaining: session.quotaMax, quotaRenews: now + session.quotaRenewalRate }
        : { expires: now + extendBy };
      // A conditional write on the session's version. If another request renewed first,
      // gatepass runs this hook again on the fresh session, which no longer needs renewing:
      // the renewal (and the quota reset) happens once.
      const renewed = await ctx.updateSession(patch);
      ctx.log.info('session renewed', { keyId: session.keyId, expired: session.expires, expires: renewed.expires, resetQuota });
    },
  } satisfies GatepassPlugin;
}

export default renewOnExpiry();
