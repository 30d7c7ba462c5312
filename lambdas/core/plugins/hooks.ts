import type { DecisionContext } from '../model/context.ts';
import type { PluginDenial } from './hook-answers.ts';
import type { HookCalls, HookRunnerOptions, RequestSession } from './hook-calls.ts';
import type { StoredSession } from '../store/item.ts';

export type { HookRunnerOptions, RequestSession } from './hook-calls.ts';

type HookName = 'pre' | 'auth' | 'postAuth' | 'post';

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
    return this.#has('pre') ? (await this.#run()).pre() : undefined;
  }

  /** See {@link HookCalls.auth}; only when {@link hasAuth}. */
  async auth(): Promise<{ key: string; session?: StoredSession } | PluginDenial> {
    return (await this.#run()).auth();
  }

  /** See {@link HookCalls.postAuth}. */
  async postAuth(): Promise<PluginDenial | 'gone' | undefined> {
    return this.#has('postAuth') ? (await this.#run()).postAuth() : undefined;
  }

  /** See {@link HookCalls.post}. */
  async post(context: DecisionContext, reserved: ReadonlySet<string>): Promise<DecisionContext> {
    return this.#has('post') ? (await this.#run()).post(context, reserved) : context;
  }

  #has(hook: HookName): boolean {
    return this.#options.plugins.some((plugin) => plugin[hook]);
  }

  #run(): Promise<HookCalls> {
    this.#calls ??= loadHookCalls().then(({ HookCalls }) => new HookCalls(this.#options, this.state));
    return this.#calls;
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
