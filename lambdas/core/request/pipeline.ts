import { countsNothing, type Limits } from '../limits/limits.ts';
import type { Config } from '../model/config.ts';
import { ContentionError } from '../model/errors.ts';
import type { Log } from '../model/log.ts';
import { preloadUrlPatterns } from '../model/url-pattern-engine.ts';
import type { JwtVerifier } from '../jwt/jwt.ts';
import { HookRunner } from '../plugins/hooks.ts';
import type { GatepassPlugin } from '../plugins/plugin.ts';
import { effectiveSettings, type Policy } from '../policies/policy.ts';
import type { PolicyStore } from '../policies/policy-store.ts';
import { guardOf, type StoredSession } from '../store/item.ts';
import { isLegacy } from '../store/legacy.ts';
import type { SessionStore } from '../store/store.ts';
import type { AuthRequest } from './auth-request.ts';
import { decide } from './decide.ts';
import { allowContext, deny, pluginDeny, RESERVED_CONTEXT, type Decision, type Denial } from './decision.ts';
import { identify, type Identity } from './identify.ts';
import { SettingsMemory } from './settings-memory.ts';

export type { AuthRequest } from './auth-request.ts';

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
  /** Most sessions whose settings this instance remembers (see `SettingsMemory`); 0 = off. @default 10000 */
  readonly rememberedSessions?: number;
}

/** Decisions made in a row on items that kept changing under the request before it gives up (fail closed). */
const MAX_ATTEMPTS = 8;

/** Where the loop starts: an item known to be current, or one remembered (settings only). */
interface Start {
  readonly item: StoredSession | undefined;
  readonly current: boolean;
}

/**
 * One request, end to end: `pre` hooks → credential (auth hook, JWT or API key) → session
 * → `postAuth` hooks (read-your-writes) → {@link decide} → one conditional counting write
 * → `post` hooks. When the write's condition fails, DynamoDB returns the item as it is and
 * the request is decided again on it. See docs/ARCHITECTURE.md, "The counting model".
 *
 * Denials are returned; faults (DynamoDB, JWKS, plugins, contention beyond the bound) are
 * thrown, and the handler fails closed.
 */
export class Pipeline {
  readonly #deps: PipelineDeps;
  readonly #clock: () => number;
  readonly #memory: SettingsMemory;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
    this.#memory = new SettingsMemory(deps.rememberedSessions ?? 10_000);
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
      limitsOf: (item) => this.#limitsOf(item),
    });

    const preDenial = await hooks.pre();
    if (preDenial) return this.#logDenial(pluginDeny(preDenial), {});

    const identity = await identify(request, hooks, this.#deps, now);
    if (isDenial(identity)) return identity;

    const start = await this.#start(identity, hooks);
    if (isDenial(start)) return this.#logDenial({ ...start, keyId: identity.keyId }, identity.logFields);
    const { decision, item } = await this.#decideAndCount(start, identity, request, hooks);
    if (!decision.allow) return this.#logDenial({ ...decision, keyId: identity.keyId }, identity.logFields);
    hooks.state.session = item;
    const context = await hooks.post(decision.context, RESERVED_CONTEXT);
    return { ...decision, context };
  }

  /**
   * The item the decision starts from: with `postAuth` hooks, the item after they ran on
   * it (the one an `auth` hook wrote, or a consistent read); else the one an `auth` hook
   * wrote, the settings this instance remembers, or a consistent read.
   */
  async #start(identity: Identity, hooks: HookRunner): Promise<Start | Denial> {
    if (hooks.hasPostAuth) {
      const item = identity.written ?? (await this.#deps.store.get(identity.pk)) ?? (await identity.whenMissing());
      return isDenial(item) ? item : this.#runPostAuth(item, identity, hooks);
    }
    if (identity.written) return { item: identity.written, current: true };
    const remembered = this.#memory.get(identity.pk);
    if (remembered) return { item: remembered, current: false };
    return { item: await this.#deps.store.get(identity.pk), current: true };
  }

  /** Runs the `postAuth` hooks on a current item; what they write is what is decided on (I4). */
  async #runPostAuth(item: StoredSession, identity: Identity, hooks: HookRunner): Promise<Start | Denial> {
    hooks.state.pk = item.pk;
    hooks.state.session = item;
    const hookDenial = await hooks.postAuth();
    if (hookDenial) return pluginDeny(hookDenial, identity.principalId);
    return { item: hooks.state.session, current: true };
  }

  /**
   * Decides on the item and counts the request. Only an Allow is ever made on remembered
   * settings, and only through a write conditioned on them; anything else is decided on a
   * current item (a consistent read, or the item a failed write returned).
   */
  async #decideAndCount(
    start: Start,
    who: Identity,
    request: AuthRequest,
    hooks: HookRunner,
  ): Promise<{ decision: Decision; item?: StoredSession }> {
    const { store } = this.#deps;
    let { item, current } = start;
    let hooked = hooks.hasPostAuth ? item : undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (item === undefined) {
        this.#memory.forget(who.pk);
        const created = await who.whenMissing();
        if (isDenial(created)) return { decision: created };
        item = created;
        current = true;
      }
      if (current && isLegacy(item)) {
        item = await store.migrate(item, (await this.#limitsOf(item)).quotaMax);
        continue;
      }
      const nowMs = this.#clock();
      const policies = await this.#policiesOf(item, who);
      await preloadUrlPatterns(item, ...policies); // decide matches URL patterns synchronously
      const verdict = decide({
        session: item,
        countersKnown: current,
        policies,
        target: request,
        nowMs,
        resultsCached: this.#deps.config.resultsCacheTtl > 0,
      });
      const confirmed = verdict.allow && !countsNothing(verdict.plan);
      if (!current && !confirmed) {
        // Remembered settings never decide alone: read the item and decide on it.
        item = await store.get(who.pk);
        current = true;
        continue;
      }
      if (!verdict.allow) return { decision: deny(verdict.reason, verdict.context, who.principalId) };
      if (countsNothing(verdict.plan)) {
        this.#memory.remember(item);
        return { decision: this.#allow(item, verdict, who, nowMs), item };
      }
      const result = await store.count(who.pk, guardOf(item), verdict.governing.scope, verdict.plan);
      if (result.ok) {
        this.#memory.remember(result.item);
        return { decision: this.#allow(result.item, verdict, who, nowMs), item: result.item };
      }
      item = result.current;
      current = true;
      if (item !== undefined) this.#memory.remember(item);
      if (hooked !== undefined && item !== undefined && !sameSettings(hooked, item)) {
        // The settings changed since the postAuth hooks judged them: they judge again.
        const again = await this.#runPostAuth(item, who, hooks);
        if (isDenial(again)) return { decision: again };
        item = again.item;
        hooked = item;
      }
    }
    throw new ContentionError(`gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  #allow(item: StoredSession, verdict: Extract<ReturnType<typeof decide>, { allow: true }>, who: Identity, nowMs: number): Decision {
    return {
      allow: true,
      principalId: who.principalId,
      context: allowContext(item, verdict.governing, nowMs),
    };
  }

  async #policiesOf(item: StoredSession, who: Identity): Promise<Policy[]> {
    const ids = item.applyPolicies ?? [];
    if (ids.length === 0 || !this.#deps.policies) {
      if (ids.length > 0) this.#deps.log.warn('session names policies but no policy store is configured', who.logFields);
      return [];
    }
    const lookup = await this.#deps.policies.getMany(ids);
    if (lookup.missing.length > 0)
      this.#deps.log.warn('session names policies that do not exist', { ...who.logFields, missing: lookup.missing });
    return lookup.policies;
  }

  /**
   * The limits of a session's own counters (its policies' when it has any): what plugins
   * see and set as `quotaRemaining`. An API's own limit is not a plugin's business.
   */
  async #limitsOf(item: StoredSession): Promise<Limits> {
    const ids = item.applyPolicies ?? [];
    const policies = ids.length > 0 && this.#deps.policies ? (await this.#deps.policies.getMany(ids)).policies : [];
    return effectiveSettings(item, policies).limits;
  }

  #logDenial<D extends Decision>(decision: D, logFields: Record<string, unknown>): D {
    if (!decision.allow) this.#deps.log.info('request denied', { ...logFields, reason: decision.reason, context: decision.context });
    return decision;
  }
}

function sameSettings(a: StoredSession, b: StoredSession): boolean {
  return a.version === b.version && a.incarnation === b.incarnation;
}

function isDenial(value: object): value is Denial {
  return 'allow' in value;
}
