import type { RequestTarget } from './access-rights.ts';
import { checkSession } from './checks.ts';
import type { Config } from './config.ts';
import { readCredential, type Headers } from './credential.ts';
import { allowContext, deny, type Decision } from './decision.ts';
import { ContentionError } from './errors.ts';
import { keyIdOf, keySessionPk, maskKey } from './keys.ts';
import { planConsumption, type Limits } from './limits.ts';
import type { Log } from './log.ts';
import type { AccessRight } from './session.ts';
import type { SessionStore, StoredSession } from './store.ts';

/** A request as the pipeline sees it, whatever event shape it came in. */
export interface AuthRequest extends RequestTarget {
  /** Header names in lower case. */
  readonly headers: Headers;
  readonly query: Readonly<Record<string, string>>;
  readonly sourceIp: string;
}

/** What a session's checks run against: its own settings, or those its policies impose. */
export interface EffectiveSettings {
  readonly limits: Limits;
  readonly accessRights: Readonly<Record<string, AccessRight>>;
}

export interface PipelineDeps {
  readonly config: Config;
  readonly store: SessionStore;
  readonly log: Log;
  /** Epoch milliseconds. @default Date.now */
  readonly clock?: () => number;
  /** Effective settings of a session. @default the session's own fields */
  readonly settingsOf?: (session: StoredSession) => Promise<EffectiveSettings> | EffectiveSettings;
}

/** Conditional consumption attempts before giving up (each failure means another request progressed). */
const MAX_CONSUME_ATTEMPTS = 8;

/**
 * The authorization pipeline of the contract, for one request:
 * credential → session (consistent read) → inactive → expiry → access rights →
 * rate limit and quota (one conditional UpdateItem) → decision.
 *
 * Denials are returned; faults (DynamoDB errors, contention beyond the bound) are thrown.
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
    const credential = readCredential(request.headers, config.apiKeyHeader, config.jwt !== undefined);
    if (credential.kind === 'none') return deny('missing_credential');
    if (credential.kind !== 'apiKey') {
      log.info('credential rejected', { credential: credential.kind });
      return deny('key_not_found');
    }

    const keyId = keyIdOf(credential.key);
    const logKey = { key: maskKey(credential.key), keyId };
    const session = await store.get(keySessionPk(keyId));
    if (session === undefined) {
      log.info('key not found', logKey);
      return deny('key_not_found');
    }
    const decision = await this.#checkAndConsume(session, request);
    if (!decision.allow) log.info('request denied', { ...logKey, reason: decision.reason });
    return decision;
  }

  /**
   * Checks the session and consumes one request. When the conditional write finds the
   * session changed (a concurrent request, an admin write, a renewal), the returned
   * item is checked afresh — no second read.
   */
  async #checkAndConsume(initial: StoredSession, request: AuthRequest): Promise<Decision> {
    const { store } = this.#deps;
    let session: StoredSession | undefined = initial;
    for (let attempt = 1; attempt <= MAX_CONSUME_ATTEMPTS; attempt++) {
      if (session === undefined) return deny('key_not_found');
      const nowMs = this.#clock();
      const settings = await this.#settingsOf(session);
      const failed = checkSession(session, settings.accessRights, request, Math.floor(nowMs / 1000));
      if (failed !== undefined) return deny(failed, { expires: session.expires }, session.keyId);

      const plan = planConsumption(settings.limits, session, nowMs);
      if (plan.kind === 'rate_limited') return deny('rate_limited', { retryAfter: plan.retryAfter }, session.keyId);
      if (plan.kind === 'quota_exceeded') return deny('quota_exceeded', { quotaRenews: plan.quotaRenews }, session.keyId);
      if (plan.rate === 'none' && plan.quota === 'none') {
        return { allow: true, principalId: session.keyId, context: allowContext(session, settings.limits, nowMs) };
      }

      const result = await store.consume(session.pk, session.version, plan, nowMs);
      if (result.ok) {
        return { allow: true, principalId: session.keyId, context: allowContext(result.session, settings.limits, nowMs) };
      }
      session = result.current;
    }
    throw new ContentionError(`gave up after ${MAX_CONSUME_ATTEMPTS} conflicting writes`);
  }

  async #settingsOf(session: StoredSession): Promise<EffectiveSettings> {
    if (this.#deps.settingsOf) return this.#deps.settingsOf(session);
    return {
      limits: { rate: session.rate, per: session.per, quotaMax: session.quotaMax, quotaRenewalRate: session.quotaRenewalRate },
      accessRights: session.accessRights,
    };
  }
}
