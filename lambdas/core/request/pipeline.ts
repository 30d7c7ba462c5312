import { checkAccessRights, type RequestTarget } from './access-rights.ts';
import { checkSession } from './checks.ts';
import type { Config } from '../model/config.ts';
import type { Headers } from './credential.ts';
import { allowContext, deny, pluginDeny, RESERVED_CONTEXT, type Decision, type Denial } from './decision.ts';
import { ContentionError } from '../model/errors.ts';
import { HookRunner } from '../plugins/hooks.ts';
import { identify, loadSession, type Identity } from './identify.ts';
import type { JwtVerifier } from '../jwt/jwt.ts';
import { planConsumption } from '../limits/limits.ts';
import type { Log } from '../model/log.ts';
import type { GatepassPlugin } from '../plugins/plugin.ts';
import { effectiveSettings, type PolicySettings } from '../policies/policy.ts';
import type { PolicyStore } from '../policies/policy-store.ts';
import type { Arming, RecordedLimits, SessionStore, StoredSession } from '../store/store.ts';

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

/** How long a session's own limits stay armed: until a settings write disarms it. */
const OWN_LIMITS_ARMED_SECONDS = 365 * 86_400;

type Outcome = { readonly decision: Decision; readonly session?: StoredSession };

/**
 * The settings a session is checked against, until when (epoch ms) they may be assumed,
 * and how new they are (`updatedAt` of the session, or of its newest policy).
 */
type Settings = PolicySettings & { readonly servedUntil: number; readonly stamp: number };

/**
 * The authorization pipeline of the contract, for one request:
 * `pre` hooks → credential (auth hook, JWT or API key) → session (consistent read) →
 * `postAuth` hooks (may renew: read-your-writes) → inactive → expiry → access rights →
 * rate limit and quota (one conditional UpdateItem) → `post` hooks → decision.
 *
 * The fast path: without a hook that needs the session before the checks, the read and
 * the consumption are one conditional UpdateItem that checks inactive, expiry, rate and
 * quota itself (see `SessionStore.fastConsume`); access rights are checked on the item it
 * returns, and the request is given back if they deny. When its condition fails, the item
 * comes back with the failure and the full path runs on it — still without a read.
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
    const hooks = new HookRunner({ plugins: this.#deps.plugins ?? [], store, log, timeoutMs: config.hookTimeoutMs, request, now });

    const preDenial = await hooks.pre();
    if (preDenial) return this.#logDenial(pluginDeny(preDenial), {});

    const identity = await identify(request, hooks, this.#deps, now);
    if (isDenial(identity)) return identity;

    const outcome =
      identity.written === undefined && !hooks.hasPostAuth
        ? await this.#fastPath(identity, request)
        : await this.#fullPath(identity, request, hooks);
    const { decision, session } = outcome;
    if (!decision.allow) return this.#logDenial(decision, identity.logFields);
    hooks.state.session = session;
    const context = await hooks.post(decision.context, RESERVED_CONTEXT);
    return { ...decision, context };
  }

  /** Consume first (one UpdateItem); fall back to the full checks on the item it returns. */
  async #fastPath(identity: Identity, request: AuthRequest): Promise<Outcome> {
    const nowMs = this.#clock();
    const fast = await this.#deps.store.fastConsume(identity.pk, nowMs);
    if (fast.ok) return this.#afterFastConsume(fast.session, identity, request, nowMs);
    const session = fast.current ?? (await identity.whenMissing());
    if (isDenial(session)) return { decision: session };
    return this.#checkAndConsume(session, identity, request, true);
  }

  /** Read the session, run `postAuth` hooks on it, then check and consume. */
  async #fullPath(identity: Identity, request: AuthRequest, hooks: HookRunner): Promise<Outcome> {
    const session = await loadSession(identity, this.#deps.store);
    if (isDenial(session)) return { decision: session };
    hooks.state.pk = session.pk;
    hooks.state.session = session;
    const hookDenial = await hooks.postAuth();
    if (hookDenial) return { decision: pluginDeny(hookDenial, identity.principalId) };
    return this.#checkAndConsume(hooks.state.session, identity, request, false);
  }

  /** The checks the fast write could not make: policies and access rights; a denial gives the request back. */
  async #afterFastConsume(taken: StoredSession, who: Identity, request: AuthRequest, nowMs: number): Promise<Outcome> {
    const settings = await this.#settingsOf(taken, who);
    const access = checkAccessRights(settings.accessRights, request);
    const failed =
      settings.missing.length > 0 ? 'no_matching_policy' : settings.inactive ? 'key_inactive' : access === 'allowed' ? undefined : access;
    if (failed !== undefined) {
      await this.#deps.store.refund(taken);
      return { decision: deny(failed, { expires: taken.expires }, who.principalId) };
    }
    return { decision: { allow: true, principalId: who.principalId, context: allowContext(taken, settings.limits, nowMs) }, session: taken };
  }

  /**
   * Checks the session and consumes one request. When the conditional write finds the
   * session changed (a concurrent request, an admin write, a renewal), the returned
   * item is checked afresh — no second read.
   */
  async #checkAndConsume(initial: StoredSession, who: Identity, request: AuthRequest, fastPath: boolean): Promise<Outcome> {
    const principal = who.principalId;
    let session: StoredSession | undefined = initial;
    for (let attempt = 1; attempt <= MAX_CONSUME_ATTEMPTS; attempt++) {
      if (session === undefined) return { decision: deny('key_not_found') };
      const nowMs = this.#clock();
      const now = Math.floor(nowMs / 1000);
      const settings = await this.#settingsOf(session, who);
      if (settings.missing.length > 0) return { decision: deny('no_matching_policy', {}, principal) };
      const inactive = session.isInactive || settings.inactive;
      const failed = checkSession({ isInactive: inactive, expires: session.expires }, settings.accessRights, request, now);
      if (failed !== undefined) return { decision: deny(failed, { expires: session.expires }, principal) };

      // Counters with no recorded limits were just set by a settings write: they stand as they
      // are. Counters recorded under newer limits than this instance knows (its policy cache
      // is behind another's) stand too, and keep their record: otherwise instances with old
      // and new copies of a changed policy would take turns opening fresh windows.
      const recorded = session.armedLimits;
      const behind = recorded !== undefined && (recorded.stamp ?? 0) > settings.stamp;
      const plan = planConsumption(settings.limits, session, nowMs, recorded === undefined || behind ? settings.limits : recorded);
      if (plan.kind === 'rate_limited') return { decision: deny('rate_limited', { retryAfter: plan.retryAfter }, principal) };
      if (plan.kind === 'quota_exceeded') return { decision: deny('quota_exceeded', { quotaRenews: plan.quotaRenews }, principal) };

      const arming = behind ? { until: undefined, limits: recorded } : this.#arming(session, settings, now);
      // Nothing to count: a write only to arm the fast path, and only if it is in use.
      if (plan.rate === 'none' && plan.quota === 'none' && (!fastPath || isArmed(session, arming, now))) {
        return { decision: { allow: true, principalId: principal, context: allowContext(session, settings.limits, nowMs) }, session };
      }
      const result = await this.#deps.store.consume(session, plan, nowMs, arming);
      if (result.ok) {
        return { decision: { allow: true, principalId: principal, context: allowContext(result.session, settings.limits, nowMs) }, session: result.session };
      }
      session = result.current;
    }
    throw new ContentionError(`gave up after ${MAX_CONSUME_ATTEMPTS} conflicting writes`);
  }

  /**
   * What a consumption write records, and whether it arms the item for the fast path: a
   * session's own limits for a year (a settings write disarms it), limits from policies no
   * longer than the policies read could be served from memory (none with a cache of 0).
   */
  #arming(session: StoredSession, settings: Settings, now: number): Arming {
    const limits = { ...settings.limits, stamp: settings.stamp };
    if ((session.applyPolicies ?? []).length === 0) return { until: now + OWN_LIMITS_ARMED_SECONDS, limits };
    const until = Math.floor(settings.servedUntil / 1000);
    return { until: this.#deps.config.policyCacheSeconds > 0 && until > now ? until : undefined, limits };
  }

  async #settingsOf(session: StoredSession, who: Identity): Promise<Settings> {
    const ids = session.applyPolicies ?? [];
    let settings: Settings;
    if (ids.length === 0 || !this.#deps.policies) {
      settings = { ...effectiveSettings(session, []), servedUntil: Number.MAX_SAFE_INTEGER, stamp: session.updatedAt ?? 0 };
    } else {
      const lookup = await this.#deps.policies.getMany(ids);
      const stamp = Math.max(0, ...lookup.policies.map((policy) => policy.updatedAt));
      settings = { ...effectiveSettings(session, lookup.policies), servedUntil: lookup.servedUntil, stamp };
    }
    if (settings.missing.length > 0) this.#deps.log.warn('session names policies that do not exist', { ...who.logFields, missing: settings.missing });
    return settings;
  }

  #logDenial<D extends Decision>(decision: D, logFields: Record<string, unknown>): D {
    if (!decision.allow) this.#deps.log.info('request denied', { ...logFields, reason: decision.reason, context: decision.context });
    return decision;
  }
}

function isDenial(value: object): value is Denial {
  return 'allow' in value;
}

/**
 * Nothing to record: the same limits are recorded, and the item is armed for at least half
 * the arming period (or arming is off). Then an unlimited request needs no write at all.
 */
function isArmed(session: StoredSession, arming: Arming, now: number): boolean {
  const { armedUntil, armedLimits } = session;
  if (armedLimits === undefined) return false;
  const sameLimits = (Object.keys(arming.limits) as (keyof RecordedLimits)[]).every((k) => armedLimits[k] === arming.limits[k]);
  if (!sameLimits) return false;
  if (arming.until === undefined) return true;
  return armedUntil !== undefined && armedUntil - now > (arming.until - now) / 2;
}
