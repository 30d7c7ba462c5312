import type { RequestTarget } from './access-rights.ts';
import { checkSession } from './checks.ts';
import type { Config } from './config.ts';
import type { Headers } from './credential.ts';
import { allowContext, deny, pluginDeny, RESERVED_CONTEXT, type Decision } from './decision.ts';
import { ContentionError } from './errors.ts';
import { HookRunner } from './hooks.ts';
import { identify, type Identified } from './identify.ts';
import type { JwtVerifier } from './jwt.ts';
import { planConsumption } from './limits.ts';
import type { Log } from './log.ts';
import type { GatepassPlugin } from './plugin.ts';
import { effectiveSettings, type PolicySettings } from './policy.ts';
import type { PolicyStore } from './policy-store.ts';
import type { SessionStore, StoredSession } from './store.ts';

/** A request as the pipeline sees it, whatever event shape it came in. */
export interface AuthRequest extends RequestTarget {
  /** Header names in lower case. */
  readonly headers: Headers;
  readonly query: Readonly<Record<string, string>>;
  readonly sourceIp: string;
}

export interface PipelineDeps {
  readonly config: Config;
  readonly store: SessionStore;
  readonly log: Log;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
  /** Loaded plugins, in the config's order. @default [] */
  readonly plugins?: readonly GatepassPlugin[];
  /** Required when `config.jwt` is set. */
  readonly jwt?: JwtVerifier;
  /** Policies for `applyPolicies` and for new JWT identities. @default none (a key with policies is denied) */
  readonly policies?: PolicyStore;
}

/** Conditional consumption attempts before giving up (each failure means another request progressed). */
const MAX_CONSUME_ATTEMPTS = 8;

/**
 * The authorization pipeline of the contract, for one request:
 * `pre` hooks → credential (auth hook, JWT or API key) → session (consistent read) →
 * `postAuth` hooks (may renew: read-your-writes) → inactive → expiry → access rights →
 * rate limit and quota (one conditional UpdateItem) → `post` hooks → decision.
 *
 * Denials are returned; faults (DynamoDB, JWKS, plugins, contention beyond the bound)
 * are thrown, and the handler fails closed.
 */
export class Pipeline {
  readonly #deps: PipelineDeps;
  readonly #clock: () => number;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
  }

  async authorize(request: AuthRequest): Promise<Decision> {
    const { config, store, log } = this.#deps;
    const now = Math.floor(this.#clock() / 1000);
    const hooks = new HookRunner({
      plugins: this.#deps.plugins ?? [],
      store,
      log,
      timeoutMs: config.hookTimeoutMs,
      request,
      now,
    });

    const preDenial = await hooks.pre();
    if (preDenial) return this.#logDenial(pluginDeny(preDenial), {});

    const identified = await identify(request, hooks, this.#deps, now);
    if ('allow' in identified) return identified;
    hooks.state.pk = identified.session.pk;
    hooks.state.session = identified.session;

    const hookDenial = await hooks.postAuth();
    if (hookDenial) return this.#logDenial(pluginDeny(hookDenial, identified.principalId), identified.logFields);

    const decision = await this.#checkAndConsume(hooks.state.session!, identified, request);
    if (!decision.allow) return this.#logDenial(decision, identified.logFields);
    const context = await hooks.post(decision.context, RESERVED_CONTEXT);
    return { ...decision, context };
  }

  /**
   * Checks the session and consumes one request. When the conditional write finds the
   * session changed (a concurrent request, an admin write, a renewal), the returned
   * item is checked afresh — no second read.
   */
  async #checkAndConsume(initial: StoredSession, who: Identified, request: AuthRequest): Promise<Decision> {
    const { store } = this.#deps;
    const principal = who.principalId;
    let session: StoredSession | undefined = initial;
    for (let attempt = 1; attempt <= MAX_CONSUME_ATTEMPTS; attempt++) {
      if (session === undefined) return deny('key_not_found');
      const nowMs = this.#clock();
      const settings = await this.#settingsOf(session);
      if (settings.missing.length > 0) {
        this.#deps.log.warn('session names policies that do not exist', { ...who.logFields, missing: settings.missing });
        return deny('no_matching_policy', {}, principal);
      }
      const inactive = session.isInactive || settings.inactive;
      const failed = checkSession({ isInactive: inactive, expires: session.expires }, settings.accessRights, request, Math.floor(nowMs / 1000));
      if (failed !== undefined) return deny(failed, { expires: session.expires }, principal);

      const plan = planConsumption(settings.limits, session, nowMs);
      if (plan.kind === 'rate_limited') return deny('rate_limited', { retryAfter: plan.retryAfter }, principal);
      if (plan.kind === 'quota_exceeded') return deny('quota_exceeded', { quotaRenews: plan.quotaRenews }, principal);
      if (plan.rate === 'none' && plan.quota === 'none') {
        return { allow: true, principalId: principal, context: allowContext(session, settings.limits, nowMs) };
      }

      const result = await store.consume(session.pk, session.version, plan, nowMs);
      if (result.ok) {
        return { allow: true, principalId: principal, context: allowContext(result.session, settings.limits, nowMs) };
      }
      session = result.current;
    }
    throw new ContentionError(`gave up after ${MAX_CONSUME_ATTEMPTS} conflicting writes`);
  }

  async #settingsOf(session: StoredSession): Promise<PolicySettings> {
    const ids = session.applyPolicies ?? [];
    if (ids.length === 0) return effectiveSettings(session, []);
    if (!this.#deps.policies) return effectiveSettings(session, []);
    const { policies } = await this.#deps.policies.getMany(ids);
    return effectiveSettings(session, policies);
  }

  #logDenial<D extends Decision>(decision: D, logFields: Record<string, unknown>): D {
    if (!decision.allow) this.#deps.log.info('request denied', { ...logFields, reason: decision.reason, context: decision.context });
    return decision;
  }
}
