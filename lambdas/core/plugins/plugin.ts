/**
 * The plugin API: what a plugin author imports. A plugin is an ES module whose default
 * export is a {@link GatepassPlugin}; in Lambda it is shipped as a layer at
 * `/opt/gatepass/plugins/<name>.mjs`, locally it is loaded from the config's entry path.
 *
 * @example
 * import type { GatepassPlugin } from 'gatepass/plugin';
 *
 * export default {
 *   name: 'renew-on-expiry',
 *   async postAuth(ctx) {
 *     if (ctx.session.expires > 0 && ctx.session.expires <= ctx.now + 5) {
 *       await ctx.updateSession({ expires: ctx.now + 60 }); // this request is checked against it
 *     }
 *   },
 * } satisfies GatepassPlugin;
 */
import type { DecisionContext } from '../model/context.ts';
import type { Log } from '../model/log.ts';
import type { Session, SessionFields, SessionInput } from '../model/session.ts';

export type { Session, SessionInput as SessionInit, Log };

/**
 * What `updateSession` may change: any settable field; `alias: null` removes the alias.
 * `quotaRemaining` and `quotaRenews` set the quota counter (read under the limits in force).
 */
export type SessionPatch = Partial<Omit<SessionFields, 'alias'>> & { alias?: string | null };

/** The request, as every hook sees it. Header names are lower case. */
export interface PluginRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string>>;
  readonly sourceIp: string;
  readonly apiId: string;
  readonly stage: string;
}

/**
 * Sessions by raw key: the `TykGetKeyData` / `TykSetKeyData` equivalents, with the same
 * rules as everything else (consistent reads, conditional awaited writes). Writing the
 * session of the request's own key changes the session this request is checked against.
 */
export interface SessionsApi {
  get(key: string): Promise<Session | undefined>;
  /**
   * Creates or replaces the session of `key`; an existing session keeps its counters. A
   * session naming a `version` — one you read (`ctx.session`, `get`) and save back, as in
   * `set(key, { ...ctx.session, expires: ctx.now + 60 })` — is written only at that version:
   * never over a change made since (an admin's deactivation or lowered quota), nor creating
   * again a key deleted since. Then nothing is written: in `postAuth` the hooks run again on
   * the session as it is now (as after a lost `updateSession`; a deleted key is refused),
   * elsewhere the request fails closed. Leave `version` out to create a session, or to
   * replace whatever is there.
   */
  set(key: string, session: SessionInput): Promise<Session>;
}

export interface HookContext {
  readonly request: PluginRequest;
  /** Epoch seconds, the same for every hook of the request. */
  readonly now: number;
  /** A logger tagged with the plugin's name. Never log raw keys. */
  readonly log: Log;
  /**
   * Aborts when the hook's time (`hookTimeoutMs`) is up (its reason a `TimeoutError`, as with
   * `AbortSignal.timeout`) or when it has answered. Pass it to your own I/O
   * (`fetch(url, { signal })`); gatepass refuses the hook's session writes after it. When the
   * request fails closed on a hook (it ran past its time, threw or answered wrongly), a write
   * any of its hooks started sends no further DynamoDB call (nor the SDK's retry of a
   * throttled one); a call already sent is not called back, and may still land afterwards (a
   * settings change like any other).
   */
  readonly signal: AbortSignal;
  readonly sessions: SessionsApi;
}

export interface SessionHookContext extends HookContext {
  /** The request's session as last written (read-your-writes). */
  readonly session: Session;
  /**
   * Changes fields of the request's session with a write conditional on its version;
   * resolves to the session as written, which the rest of the request is checked against.
   * If a concurrent write got there first, the hook is run again on the fresh session.
   */
  updateSession(patch: SessionPatch): Promise<Session>;
}

export interface PostContext extends HookContext {
  readonly session: Session;
  /** The context of the Allow so far. */
  readonly context: Readonly<DecisionContext>;
}

/** A hook's refusal: 403 with this message; `reason` is snake_case, default `plugin_denied`. */
export interface HookDenial {
  readonly deny: { readonly reason?: string; readonly message: string };
}

/**
 * What `auth` answers: the key this request uses, and optionally its session.
 * - `session` creates or replaces it (`TykSetKeyData`): every request that answers it
 *   writes it, quota included; one naming a `version` only at that version, as
 *   {@link SessionsApi.set} (else the request fails closed);
 * - `createSession` creates it only if there is none (first sight): concurrent first
 *   requests make exactly one, and later ones leave the counters alone.
 */
export interface AuthResult {
  readonly key: string;
  readonly session?: SessionInput;
  readonly createSession?: SessionInput;
}

export interface GatepassPlugin {
  readonly name: string;
  /** Before any session is read. */
  pre?(ctx: HookContext): Promise<HookDenial | void> | HookDenial | void;
  /** Custom authentication: names the key of this request (and may create its session). */
  auth?(ctx: HookContext): Promise<AuthResult | HookDenial> | AuthResult | HookDenial;
  /** After the session is loaded, before the checks; may update the session. */
  postAuth?(ctx: SessionHookContext): Promise<HookDenial | void> | HookDenial | void;
  /** After an Allow; may add context values (gatepass's own keys cannot be replaced). */
  post?(ctx: PostContext): Promise<{ context?: DecisionContext } | void> | { context?: DecisionContext } | void;
}
