import type { DecisionContext } from '../model/context.ts';
import type { PluginDenial } from './hook-answers.ts';
import type { HookCalls, HookName, HookRunnerOptions } from './hook-calls.ts';
import type { RequestSession } from './hook-conflicts.ts';
import type { StoredSession } from '../store/item.ts';

export type { HookRunnerOptions } from './hook-calls.ts';
export type { RequestSession } from './hook-conflicts.ts';

/**
 * The plugins' hooks for one request, as the pipeline sees them: a hook that no plugin has
 * is a step that does nothing. The code that calls hooks ({@link HookCalls}: time budgets,
 * answers, session writes, `hook-calls.ts`) is imported the first time a request has a hook
 * to run, so an authorizer whose config names no plugins never reads it.
 */
export class HookRunner {
  readonly state: RequestSession = { pk: undefined, session: undefined, written: false };
  readonly #options: HookRunnerOptions;
  #calls: Promise<HookCalls> | undefined;

  constructor(options: HookRunnerOptions) {
    this.#options = options;
  }

  get hasAuth(): boolean {
    return this.#has('auth');
  }

  get hasPostAuth(): boolean {
    return this.#has('postAuth');
  }

  /** See {@link HookCalls.pre}. */
  async pre(): Promise<PluginDenial | undefined> {
    return this.#has('pre') ? this.#run((calls) => calls.pre()) : undefined;
  }

  /** See {@link HookCalls.auth}; only when {@link hasAuth}. */
  async auth(): Promise<{ key: string; session?: StoredSession } | PluginDenial> {
    return this.#run((calls) => calls.auth());
  }

  /** See {@link HookCalls.postAuth}. */
  async postAuth(): Promise<PluginDenial | 'gone' | undefined> {
    return this.#has('postAuth') ? this.#run((calls) => calls.postAuth()) : undefined;
  }

  /** See {@link HookCalls.post}. */
  async post(context: DecisionContext, reserved: ReadonlySet<string>): Promise<DecisionContext> {
    return this.#has('post') ? this.#run((calls) => calls.post(context, reserved)) : context;
  }

  #has(hook: HookName): boolean {
    return this.#options.plugins.some((plugin) => plugin[hook]);
  }

  /** Runs hooks through the request's {@link HookCalls}; when they fail (the request fails closed), the session writes they started stop. */
  async #run<T>(hooks: (calls: HookCalls) => Promise<T>): Promise<T> {
    this.#calls ??= loadHookCalls().then(({ HookCalls }) => new HookCalls(this.#options, this.state));
    const calls = await this.#calls;
    try {
      return await hooks(calls);
    } catch (error) {
      calls.stopWrites(error);
      throw error;
    }
  }
}

let hookCalls: Promise<typeof import('./hook-calls.ts')> | undefined;

/** Imports `hook-calls.ts` once per instance; a failed import is tried again by the next request. */
function loadHookCalls(): Promise<typeof import('./hook-calls.ts')> {
  hookCalls ??= import('./hook-calls.ts').catch((error: unknown) => {
    hookCalls = undefined;
    throw error;
  });
  return hookCalls;
}
