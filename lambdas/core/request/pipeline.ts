import { countsNothing } from '../limits/limits.ts';
import type { Config } from '../model/config.ts';
import { ContentionError } from '../model/errors.ts';
import type { Log } from '../model/log.ts';
import { preloadUrlPatterns } from '../model/url-pattern-engine.ts';
import type { JwtVerifier } from '../jwt/jwt.ts';
import { HookRunner } from '../plugins/hooks.ts';
import type { GatepassPlugin } from '../plugins/plugin.ts';
import type { Policy } from '../policies/policy.ts';
import type { PolicyStore } from '../policies/policy-store.ts';
import { SessionService } from '../session/service.ts';
import { keyAccepted, type StoredSession } from '../store/item.ts';
import { leaseTag } from '../store/lease-tag.ts';
import type { SessionStore } from '../store/store.ts';
import type { AuthRequest } from './auth-request.ts';
import { BusyBudget } from './busy-budget.ts';
import { decide } from './decide.ts';
import { DENIAL_MEMORY_MS, DenialMemory } from './denial-memory.ts';
import { allowContext, deny, pluginDeny, RESERVED_CONTEXT, type Decision, type Denial } from './decision.ts';
import { identify, type Identity } from './identify.ts';
import { KeyPointers } from './key-pointers.ts';
import { isDenial, type Known, READ, sameSettings } from './known.ts';
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
  /** Longest a rate-limit or quota denial is repeated without a DynamoDB request (see `DenialMemory`), ms; 0 = off. @default 500 */
  readonly denialMemoryMs?: number;
}

/** Decisions made in a row on items that kept changing under the request before it gives up (fail closed); busy counts aside. */
const MAX_ATTEMPTS = 8;

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
  readonly #denials: DenialMemory;
  readonly #sessions: SessionService;
  /** Rotated-in keys' partition keys → the session they use (immutable facts, bounded like the memory). */
  readonly #pointers: KeyPointers;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
    this.#memory = new SettingsMemory(deps.rememberedSessions ?? 10_000);
    this.#pointers = new KeyPointers(deps.store, this.#memory, deps.rememberedSessions ?? 10_000);
    const denialMs = deps.denialMemoryMs ?? DENIAL_MEMORY_MS;
    this.#denials = new DenialMemory(denialMs > 0 ? (deps.rememberedSessions ?? 10_000) : 0, denialMs);
    this.#sessions = new SessionService(deps.store, async (ids) => (await this.#lookupPolicies(ids)).policies);
  }

  async authorize(request: AuthRequest): Promise<Decision> {
    const { config, log } = this.#deps;
    const busy = new BusyBudget(); // from the request's start: its hooks' time is in it
    const nowMs = this.#clock();
    const hooks = new HookRunner({
      plugins: this.#deps.plugins ?? [],
      sessions: this.#sessions,
      log,
      timeoutMs: config.hookTimeoutMs,
      request,
      nowMs,
    });

    const preDenial = await hooks.pre();
    if (preDenial) return this.#logDenial(pluginDeny(preDenial), {});

    const identity = await identify(request, hooks, { ...this.#deps, sessions: this.#sessions }, nowMs);
    if (isDenial(identity)) return identity;

    const followed = await this.#pointers.follow(identity);
    const { who, start } = await this.#start(followed.who, hooks, followed.read);
    // Usage and logs name the session: a rotated-in key's denials count under the key id of the session it uses.
    const keyId = who.pointerPk === undefined ? identity.keyId : who.pk.slice(who.pk.indexOf('#') + 1);
    if (isDenial(start)) return this.#logDenial({ ...start, keyId }, identity.logFields);
    const { decision, item } = await this.#decideAndCount(start, who, request, hooks, busy);
    if (!decision.allow) return this.#logDenial({ ...decision, keyId }, identity.logFields);
    hooks.state.session = item;
    const context = await hooks.post(decision.context, RESERVED_CONTEXT);
    return { ...decision, context };
  }

  /**
   * The item the decision starts from: with `postAuth` hooks, the item after they ran on
   * it (the one an `auth` hook wrote, or a consistent read); else the one an `auth` hook
   * wrote, the settings this instance remembers, or a consistent read. Hooks run only for a
   * key the session takes (`KeyPointers.taken`): whom the request goes on as.
   */
  async #start(
    identity: Identity,
    hooks: HookRunner,
    read: StoredSession | undefined | 'unread',
  ): Promise<{ who: Identity; start: Known | Denial }> {
    const written =
      identity.written === undefined
        ? undefined
        : { item: identity.written, settingsCurrent: true, countersKnown: false, countersHint: true };
    const current = async () => (read === 'unread' ? this.#deps.store.get(identity.pk) : read);
    if (hooks.hasPostAuth) {
      const taken = await this.#pointers.taken(identity, identity.written ?? (await current()), Math.floor(this.#clock() / 1000));
      if (taken === 'refused') return { who: identity, start: deny('key_not_found') };
      const item = taken.item ?? (await taken.who.whenMissing());
      return { who: taken.who, start: isDenial(item) ? item : await this.#runPostAuth({ item, ...(written ?? READ) }, taken.who, hooks) };
    }
    if (written) return { who: identity, start: written };
    const remembered = read === 'unread' ? this.#memory.get(identity.pk) : undefined;
    if (remembered) return { who: identity, start: { item: remembered, settingsCurrent: false, countersKnown: false } };
    return { who: identity, start: { item: await current(), ...READ } };
  }

  /** Runs the `postAuth` hooks on a current item; what they write is what is decided on (I4). */
  async #runPostAuth(start: Known, identity: Identity, hooks: HookRunner): Promise<Known | Denial> {
    // No hook runs for a key the session does not take, before the chain or when it runs again (a write lost to a change).
    const presented = identity.presentedKeyId;
    hooks.state.takes = presented === undefined ? undefined : (item) => keyAccepted(item, presented, Math.floor(this.#clock() / 1000));
    if (hooks.state.takes?.(start.item!) === false) return deny('key_not_found');
    hooks.state.pk = start.item!.pk;
    hooks.state.session = start.item;
    hooks.state.written = !start.countersKnown;
    const hookDenial = await hooks.postAuth();
    if (hookDenial === 'gone') return { item: undefined, ...READ };
    if (hookDenial) return pluginDeny(hookDenial, identity.principalId);
    return { item: hooks.state.session, settingsCurrent: true, countersKnown: !hooks.state.written, countersHint: hooks.state.written };
  }

  /**
   * Decides on the item and counts the request. Only an Allow is ever made on remembered
   * settings, and only through a write conditioned on them; anything else is decided on a
   * current item (a consistent read, or the item a failed write returned) — but for a limit
   * denial repeated from memory (`DenialMemory`), which may outlive a change, a reset or a
   * re-creation of the key by up to half a second.
   */
  async #decideAndCount(
    start: Known,
    identity: Identity,
    request: AuthRequest,
    hooks: HookRunner,
    busy: BusyBudget,
  ): Promise<{ decision: Decision; item?: StoredSession }> {
    const { store } = this.#deps;
    let who = identity;
    let { item, settingsCurrent, countersKnown } = start;
    let countersHint = start.countersHint === true;
    // What the postAuth hooks last judged (undefined: none, as they found the session gone).
    let hooked = item;
    // A hot key's session item counts leases, not spent requests: deny on it only once the store has said so.
    let storeSaid = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const nowMs = this.#clock();
      if (item === undefined || (who.presentedKeyId !== undefined && !keyAccepted(item, who.presentedKeyId, Math.floor(nowMs / 1000)))) {
        if (item !== undefined && !settingsCurrent) {
          ({ item, settingsCurrent, countersKnown } = { item: await store.get(who.pk), ...READ }); // remembered settings never refuse
          continue;
        }
        // Gone, or a key rotated out (or never this session's): refused — a remembered pointer read again once.
        const taken = await this.#pointers.taken(who, item, Math.floor(nowMs / 1000));
        if (taken === 'refused') return { decision: deny('key_not_found') };
        ({ who, item } = taken);
        if (item === undefined) this.#memory.forget(who.pk);
        const created = item ?? (await who.whenMissing());
        if (isDenial(created)) return { decision: created };
        ({ item, settingsCurrent, countersKnown } = { item: created, ...READ });
      }
      if (hooks.hasPostAuth && settingsCurrent && (hooked === undefined || item.pk !== hooked.pk || !sameSettings(hooked, item))) {
        // Another session (gone, a pointer read again) or its settings changed since the postAuth hooks judged: they judge again.
        if (!busy.open()) throw new ContentionError('the settings changed again after the busy budget');
        const again = await this.#runPostAuth({ item, ...READ }, who, hooks);
        if (isDenial(again)) return { decision: again };
        ({ item, settingsCurrent, countersKnown } = again);
        countersHint = again.countersHint === true;
        if (item === undefined) continue;
        hooked = item;
      }
      const policies = await this.#policiesOf(item, who);
      await preloadUrlPatterns(item, ...policies); // decide matches URL patterns synchronously
      const verdict = decide({
        session: item,
        countersKnown: (countersKnown || countersHint) && (storeSaid || (item.shards ?? 0) === 0),
        policies,
        target: request,
        nowMs,
        resultsCached: this.#deps.config.resultsCacheTtl > 0,
      });
      const confirmed = verdict.allow && !countsNothing(verdict.plan);
      if (!settingsCurrent && !confirmed) {
        // Remembered settings never decide alone: read the item and decide on it.
        ({ item, settingsCurrent, countersKnown } = { item: await store.get(who.pk), ...READ });
        continue;
      }
      if (!verdict.allow && countersHint && (verdict.check === 'rate_limit' || verdict.check === 'quota')) {
        // Counters read before a hook's write may have moved (a reset): confirm before denying on them.
        ({ item, settingsCurrent, countersKnown } = { item: await store.get(who.pk), ...READ });
        countersHint = false;
        continue;
      }
      if (!verdict.allow) {
        const denial = deny(verdict.reason, verdict.context, who.principalId);
        this.#denials.remember(item, verdict, denial, nowMs);
        return { decision: denial };
      }
      if (countsNothing(verdict.plan)) {
        this.#memory.remember(item);
        return { decision: this.#allow(item, verdict, who, nowMs), item };
      }
      // A used-up key, hammered: this instance repeats its denial for up to half a second instead of writing.
      const repeated = this.#denials.get(item, verdict.governing.scope, nowMs);
      if (repeated !== undefined) return { decision: repeated };
      const result = await store.count(item, verdict.governing.scope, verdict.plan, leaseTag(policies), busy.count());
      if (result.ok) {
        this.#memory.remember(result.item);
        return { decision: this.#allow(result.item, verdict, who, nowMs), item: result.item };
      }
      countersHint = false;
      storeSaid = result.noRoom === true;
      if (result.busy) {
        // Nothing learned (counter items busy): counted again after a pause, within the busy budget (not the attempts), on
        // the same item with the counter items the count last saw. Not a read: its settings may allow (the count checks
        // their version) and its counts deny nothing (a cooling to the session item gave leases back); a denial reads first.
        await busy.wait();
        item = result.current ?? item;
        settingsCurrent = false;
        countersKnown = false;
        attempt--;
        continue;
      }
      if (result.stalePolicies) this.#deps.policies?.forget(item.applyPolicies ?? []); // decided again on the policies as they are
      ({ item, settingsCurrent, countersKnown } = { item: result.current, ...READ });
      if (item !== undefined) this.#memory.remember(item);
    }
    throw new ContentionError(`gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  #allow(item: StoredSession, verdict: Extract<ReturnType<typeof decide>, { allow: true }>, who: Identity, nowMs: number): Decision {
    return {
      allow: true,
      // A rotated key answers as the session it uses: one principal across its keys.
      principalId: who.presentedKeyId === undefined ? who.principalId : item.keyId,
      context: allowContext(item, verdict.governing, nowMs),
    };
  }

  async #policiesOf(item: StoredSession, who: Identity): Promise<Policy[]> {
    const ids = item.applyPolicies ?? [];
    if (ids.length > 0 && !this.#deps.policies)
      this.#deps.log.warn('session names policies but no policy store is configured', who.logFields);
    const lookup = await this.#lookupPolicies(ids);
    if (lookup.missing.length > 0)
      this.#deps.log.warn('session names policies that do not exist', { ...who.logFields, missing: lookup.missing });
    return lookup.policies;
  }

  /** The policies by id, through this instance's cache (none without a policy store). */
  async #lookupPolicies(ids: readonly string[]): Promise<{ policies: Policy[]; missing: string[] }> {
    if (ids.length === 0 || !this.#deps.policies) return { policies: [], missing: [] };
    return this.#deps.policies.getMany([...ids]);
  }

  #logDenial<D extends Decision>(decision: D, logFields: Record<string, unknown>): D {
    if (!decision.allow) this.#deps.log.info('request denied', { ...logFields, reason: decision.reason, context: decision.context });
    return decision;
  }
}
