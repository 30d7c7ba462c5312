import type { DecisionContext } from '../model/context.ts';
import { PluginError } from '../model/errors.ts';
import { readContext, readDenial, tagged, type PluginDenial } from './hook-answers.ts';
import {
  HookConflict,
  HookGone,
  isLostWrite,
  lostWrite,
  MAX_HOOK_ATTEMPTS,
  type RequestSession,
  unwrapConflict,
} from './hook-conflicts.ts';
import { fieldProblems, InvalidInputError } from '../model/input-error.ts';
import { toPublicSession } from '../store/public-session.ts';
import type { Log } from '../model/log.ts';
import type { AuthResult, GatepassPlugin, HookContext, PluginRequest, SessionPatch, SessionsApi } from './plugin.ts';
import type { Session } from '../model/session.ts';
import { createSessionOnce, getSession, setSession, unlessRetired } from './session-writes.ts';
import { unstorable } from '../model/storable.ts';
import { preloadUrlPatterns } from '../model/url-pattern-engine.ts';
import type { SessionService } from '../session/service.ts';
import type { StoredSession } from '../store/item.ts';
import { HookWrites, unseen } from './hook-writes.ts';

/** The hooks a plugin may have. */
export type HookName = 'pre' | 'auth' | 'postAuth' | 'post';

export interface HookRunnerOptions {
  readonly plugins: readonly GatepassPlugin[];
  /** Every session read and write of a hook goes through the session service. */
  readonly sessions: SessionService;
  readonly log: Log;
  readonly timeoutMs: number;
  readonly request: PluginRequest;
  /** Epoch milliseconds of the request; plugins see `now` in seconds. */
  readonly nowMs: number;
}

/**
 * Runs the plugins' hooks for one request, in the configured order, each within its time
 * budget. A hook that throws, hangs or answers something invalid is a fault: it is logged
 * with the plugin's name and rethrown as {@link PluginError}, and the request fails closed.
 * The pipeline holds a `HookRunner` (`hooks.ts`), which imports this module the first time
 * a request has a hook to run.
 */
export class HookCalls {
  readonly state: RequestSession;
  readonly #options: HookRunnerOptions;
  readonly #writes = new HookWrites();

  /** `state` is the runner's: the pipeline and the hooks read and write the same object. */
  constructor(options: HookRunnerOptions, state: RequestSession) {
    this.#options = options;
    this.state = state;
  }

  /**
   * The request fails closed on its hooks (`reason`): the session writes they started, awaited
   * or not, send no further DynamoDB call — not even the SDK's retry of a throttled one — so
   * none lands after the answer but a call already sent (`call-signal.ts`).
   */
  stopWrites(reason: unknown): void {
    this.#writes.stop(reason);
  }

  async pre(): Promise<PluginDenial | undefined> {
    for (const plugin of this.#options.plugins) {
      if (!plugin.pre) continue;
      const result = await this.#call(plugin, 'pre', (signal) => plugin.pre!(this.#context(plugin, signal, 'pre')));
      const denial = this.#denial(plugin, result);
      if (denial) return denial;
    }
    return undefined;
  }

  /** The first plugin with an `auth` hook names the key (and may write its session). */
  async auth(): Promise<{ key: string; session?: StoredSession } | PluginDenial> {
    const plugin = this.#options.plugins.find((p) => p.auth)!;
    const result = await this.#call(plugin, 'auth', (signal) => plugin.auth!(this.#context(plugin, signal, 'auth')));
    const denial = this.#denial(plugin, result);
    if (denial) return denial;
    const { key, session, createSession } = (result ?? {}) as Partial<AuthResult>;
    if (typeof key !== 'string' || key.length === 0) throw this.#fault(plugin, 'auth must answer { key } or { deny }');
    if (session !== undefined && createSession !== undefined) throw this.#fault(plugin, 'auth answers session or createSession, not both');
    const { sessions, nowMs } = this.#options;
    if (session !== undefined) {
      // A retired key's session is not written: the key alone is named, and the request refused as it is.
      const written = await this.#write(plugin, () => setSession(sessions, key, session, nowMs)).catch(unlessRetired);
      return written === undefined ? { key } : { key, session: written };
    }
    if (createSession !== undefined)
      return { key, session: await this.#write(plugin, () => createSessionOnce(sessions, key, createSession, nowMs)) };
    return { key };
  }

  /**
   * Runs `postAuth` hooks; each sees the session as last written and may update it. When a
   * hook's write loses to a concurrent writer, the whole chain runs again on the fresh session
   * (after a short random pause), so no hook's check is carried across a settings change.
   * `gone` when the key was deleted while the hooks ran.
   */
  async postAuth(): Promise<PluginDenial | 'gone' | undefined> {
    for (let attempt = 1; ; attempt++) {
      let plugin: GatepassPlugin | undefined;
      try {
        for (plugin of this.#options.plugins) {
          if (!plugin.postAuth) continue;
          const current = plugin;
          const session = await this.#view(this.state.session!);
          const run = (signal: AbortSignal) => {
            const updateSession = (patch: SessionPatch) => this.#whileRunning(current, signal, () => this.#update(current, patch));
            return current.postAuth!({ ...this.#context(current, signal, 'postAuth'), session, updateSession });
          };
          const answer = await this.#call(current, 'postAuth', run);
          const denial = this.#denial(current, answer);
          if (denial) return denial;
        }
        return undefined;
      } catch (error) {
        if (error instanceof HookGone) return 'gone';
        if (!(error instanceof HookConflict) || attempt >= MAX_HOOK_ATTEMPTS) throw unwrapConflict(plugin!, error);
        await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()));
      }
    }
  }

  /** Runs `post` hooks after an Allow; their context values are added, gatepass's own kept. */
  async post(context: DecisionContext, reserved: ReadonlySet<string>): Promise<DecisionContext> {
    let merged = context;
    for (const plugin of this.#options.plugins) {
      if (!plugin.post) continue;
      const session = await this.#view(this.state.session!);
      const result = (await this.#call(plugin, 'post', (signal) =>
        plugin.post!({ ...this.#context(plugin, signal, 'post'), session, context: merged }),
      )) as { context?: unknown; deny?: unknown } | undefined;
      // `post` runs after the decision: it cannot deny, and trying to is a bug, never an Allow.
      if (result !== null && typeof result === 'object' && 'deny' in result)
        throw this.#fault(plugin, 'post cannot deny (deny in pre, auth or postAuth)');
      if (result?.context === undefined) continue;
      merged = { ...merged, ...this.#checked(plugin, () => readContext(plugin, result.context, reserved, this.#options.log)) };
    }
    return merged;
  }

  /** A hook's `{ deny }`, checked; a malformed one is a fault, logged like any other. */
  #denial(plugin: GatepassPlugin, result: unknown): PluginDenial | undefined {
    return this.#checked(plugin, () => readDenial(plugin, result));
  }

  /** A hook's answer read by `read`; a malformed one (a `PluginError`) is a fault, logged like any other. */
  #checked<T>(plugin: GatepassPlugin, read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw error instanceof PluginError ? this.#fault(plugin, error.message.replace(`plugin ${plugin.name}: `, '')) : error;
    }
  }

  #context(plugin: GatepassPlugin, signal: AbortSignal, hook: HookName): HookContext {
    const { request, nowMs } = this.#options;
    return {
      request,
      now: Math.floor(nowMs / 1000),
      signal,
      log: tagged(this.#options.log, plugin.name),
      sessions: this.#sessions(plugin, signal, hook),
    };
  }

  /**
   * Runs a hook's write only while the hook is running: once it has answered or run past
   * its deadline (and the request was failed closed), its writes are refused.
   */
  #whileRunning<T>(plugin: GatepassPlugin, signal: AbortSignal, write: () => Promise<T>): Promise<T> {
    if (signal.aborted)
      return unseen(Promise.reject(this.#fault(plugin, 'session write refused: the hook has finished or ran past its deadline')));
    return this.#writes.start(write);
  }

  /**
   * `sessions.get`/`set` for a hook. A `set` naming the `version` it read that lost to a change
   * landed since (or found the key deleted) writes nothing: in `postAuth` the chain runs again
   * on the request's session as it is now, as after a lost `updateSession`; elsewhere the
   * request fails closed.
   */
  #sessions(plugin: GatepassPlugin, signal: AbortSignal, hook: HookName): SessionsApi {
    const { sessions, nowMs } = this.#options;
    return {
      get: async (key) => {
        const item = await getSession(sessions, key);
        return item === undefined ? undefined : this.#view(item);
      },
      set: (key, session) =>
        this.#whileRunning(plugin, signal, async () => {
          const write = () => setSession(sessions, key, session, nowMs);
          const lost = async (error: unknown) => Promise.reject(await lostWrite(error, this.state, sessions));
          return this.#view(await this.#write(plugin, hook === 'postAuth' ? () => write().catch(lost) : write));
        }),
    };
  }

  /** A session write by a plugin; when it is the request's own session, this request uses it. */
  async #write(plugin: GatepassPlugin, write: () => Promise<StoredSession>): Promise<StoredSession> {
    let written: StoredSession;
    try {
      written = await write();
    } catch (error) {
      if (error instanceof Error && error.name === 'InvalidInputError')
        throw this.#fault(plugin, `invalid session: ${error.message}`, error);
      if (isLostWrite(error)) throw this.#fault(plugin, `session write refused: ${error.message}`, error);
      throw error;
    }
    if (this.state.pk !== undefined && this.state.pk === written.pk) {
      this.state.session = written;
      this.state.written = true;
    }
    return written;
  }

  /**
   * A plugin's patch: settings, plus counters when it names them (`quotaRemaining` is read
   * under the limits in force after the patch).
   */
  async #update(plugin: GatepassPlugin, patch: SessionPatch): Promise<Session> {
    const unsafe = unstorable(patch);
    if (unsafe.length > 0) throw this.#fault(plugin, `invalid session patch: ${unsafe.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    await preloadUrlPatterns(patch); // the schema checks URL patterns
    const { SessionPatchSchema } = await import('../model/session.ts'); // zod: loaded on the first patch, not at start-up
    const parsed = SessionPatchSchema.safeParse(patch);
    if (!parsed.success) {
      throw this.#fault(
        plugin,
        `invalid session patch: ${fieldProblems(parsed.error)
          .map((p) => `${p.field}: ${p.message}`)
          .join('; ')}`,
      );
    }
    const current = this.state.session!;
    try {
      const written = await this.#options.sessions.update(current, parsed.data, this.#options.nowMs);
      this.state.session = written;
      this.state.written = true;
      return this.#view(written);
    } catch (error) {
      if (error instanceof InvalidInputError)
        throw this.#fault(plugin, `invalid session patch: ${error.details.map((p) => `${p.field}: ${p.message}`).join('; ')}`, error);
      throw await lostWrite(error, this.state, this.#options.sessions);
    }
  }

  /**
   * The session a hook sees: a deep copy, so that editing it in place changes nothing —
   * only a write (`updateSession`) changes the session this request is checked against.
   */
  async #view(item: StoredSession): Promise<Session> {
    return structuredClone(toPublicSession(item, await this.#options.sessions.limitsOf(item), this.#options.nowMs));
  }

  /**
   * Calls a hook within the time budget; errors become faults carrying the plugin's name.
   * The hook's `signal` aborts when its time is up (a `TimeoutError`) or when it has answered:
   * a hook that keeps running in the background can no longer write (see {@link HookContext.signal}).
   * Every hook's un-awaited session writes are waited for within the same budget: past it, the
   * request fails closed as on a timeout and the runner stops them; none lands after the answer.
   */
  async #call<T>(plugin: GatepassPlugin, hook: string, fn: (s: AbortSignal) => T | Promise<T>): Promise<T> {
    const { timeoutMs } = this.#options;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const message = `${hook} hook ran past ${timeoutMs} ms`;
        controller.abort(new DOMException(message, 'TimeoutError'));
        reject(this.#fault(plugin, message));
      }, timeoutMs);
    });
    try {
      const answered = Promise.resolve()
        .then(() => fn(controller.signal))
        .then(async (answer) => {
          controller.abort(); // answered: its writes from now on are refused
          await this.#writes.settle();
          return answer;
        });
      return await Promise.race([answered, timeout]);
    } catch (error) {
      if (error instanceof HookConflict || error instanceof HookGone || error instanceof PluginError) throw error;
      throw this.#fault(plugin, `${hook} hook threw: ${error instanceof Error ? error.message : String(error)}`, error);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  #fault(plugin: GatepassPlugin, message: string, cause?: unknown): PluginError {
    const error = new PluginError(plugin.name, message, { cause });
    this.#options.log.error('plugin failed: failing closed', { plugin: plugin.name, error: message });
    return error;
  }
}
