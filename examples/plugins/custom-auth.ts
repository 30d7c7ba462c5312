/**
 * custom-auth: the "Auth Token" plugin of the Tyk community forum thread gatepass started
 * from — a JSVM plugin that authenticated a token and renewed its expired session with
 * `TykSetKeyData`, after which the same request was still rejected with "Key has expired,
 * please renew" (Tyk checked a cached copy of the session). An `auth` hook reads a token
 * from a header of its own, hashes it into a session key and, the first time it sees
 * the token, creates the session (like Tyk's `auth_check` + `TykSetKeyData`, but created
 * once: a concurrent first request uses the same session). The session it writes is the one
 * this very request is checked against, so the first request is allowed; later requests
 * reuse the session, and its quota counts down.
 *
 * @example
 * // plugins/partner-auth.ts
 * import { customAuth } from './custom-auth.ts';
 * export default customAuth({ name: 'partner-auth', header: 'x-partner-token', quotaMax: 100 });
 */
import { createHash } from 'node:crypto';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';

export interface CustomAuthOptions {
  /** @default 'custom-auth' */
  readonly name?: string;
  /** The header carrying the token (any case). @default 'x-auth-token' */
  readonly header?: string;
  /** A new session expires this many seconds after its first request. @default 60 */
  readonly sessionSeconds?: number;
  /** Quota of a new session. @default 1000 */
  readonly quotaMax?: number;
  /** Quota window of a new session, in seconds. @default 60 */
  readonly quotaRenewalRate?: number;
}

/** The session key of a token: its SHA-256 (hex). gatepass stores only the hash of that. */
export function sessionKeyOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A searchable alias that does not reveal the key: a prefix of the key id gatepass stores. */
export function aliasOf(key: string): string {
  return `custom-auth-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16)}`;
}

export function customAuth(options: CustomAuthOptions = {}) {
  const name = options.name ?? 'custom-auth';
  const header = (options.header ?? 'x-auth-token').toLowerCase(); // gatepass lower-cases header names
  const sessionSeconds = options.sessionSeconds ?? 60;
  const quotaMax = options.quotaMax ?? 1000;
  const quotaRenewalRate = options.quotaRenewalRate ?? 60;

  return {
    name,
    async auth(ctx) {
      const token = ctx.request.headers[header]?.trim();
      if (!token) return { deny: { reason: 'missing_token', message: 'Auth token missing' } };
      const key = sessionKeyOf(token);
      if ((await ctx.sessions.get(key)) !== undefined) return { key };
      // First sight: `createSession` creates the session only if there is none, so concurrent
      // first requests of one token make exactly one session (and count against one quota).
      return {
        key,
        createSession: {
          alias: aliasOf(key),
          expires: ctx.now + sessionSeconds,
          quotaMax,
          quotaRenewalRate,
          accessRights: { [ctx.request.apiId]: { versions: ['Default'] } },
        },
      };
    },
  } satisfies GatepassPlugin;
}

export default customAuth();
