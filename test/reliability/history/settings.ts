/**
 * The settings side of the reference model: a subject's settings (read back through the
 * admin API, or known from the writes the history issued), the versions of each policy and
 * when each was the stored one, and what a request may be decided under at a given moment:
 * every combination of the subject's possible settings and of the policy versions the
 * instance's cache may still serve ("an instance may decide under any policy version its
 * cache may still serve"). How policies merge is Tyk's, as `lambdas/core/policies/`
 * implements it (the model checks counting, not merging).
 */
import { effectiveSettings, limitsFor, type MergedPolicy } from '../../../lambdas/core/policies/policy.ts';
import { permits, type Rights, type Route } from './routes.ts';

export interface Limits {
  /** Requests per quota window; -1 = no quota. */
  readonly quotaMax: number;
  /** Quota window length, s; 0 = the quota never renews. */
  readonly quotaRenewalRate: number;
  /** 0 = no rate limit. */
  readonly rate: number;
  readonly per: number;
}

export interface KeySettings extends Limits {
  readonly expires: number;
  readonly isInactive: boolean;
  readonly accessRights: Rights;
  readonly applyPolicies: readonly string[];
}

export interface InstanceSpec {
  /** How far this instance's clock runs ahead of the shared clock, ms. */
  readonly offsetMs: number;
  /** Its `policyCacheSeconds` (and its PolicyStore's `cacheSeconds`). */
  readonly cacheSeconds: number;
  /** Whether it runs the renewal hook (`postAuth`: an expired session gets expires = now + 60). */
  readonly renews: boolean;
  /** Whether it runs the settings hook (`postAuth`: writes the limits a request asks for, see hooks.ts). */
  readonly hooks: boolean;
}

export interface PolicyVersion {
  readonly version: number;
  readonly policy: MergedPolicy;
  /** Shared-clock ms from which, and until which, this version was the stored one. */
  readonly from: number;
  to: number;
}

/** Where a request is counted: the subject's own counters, or an API's (a per-API limit). */
export type Scope = string;

/** One way a request may be decided: under one of the settings and policy versions that may be in force. */
export interface Candidate {
  /** It passes the checks before counting (active, not expired, rights). */
  readonly passes: boolean;
  readonly scope: Scope;
  readonly limits: Limits;
}

export function sameSettings(a: KeySettings, b: KeySettings): boolean {
  return canonical(a) === canonical(b);
}

export function isExpiredAt(expires: number, instanceMs: number): boolean {
  return expires > 0 && Math.floor(instanceMs / 1000) >= expires;
}

export class PolicyHistory {
  readonly #versions = new Map<string, PolicyVersion[]>();

  /** Records the version read back after a write (or at the start); a new version ends the previous one at `at`. */
  record(id: string, version: number, policy: MergedPolicy, at: number): boolean {
    const list = this.#versions.get(id) ?? [];
    const last = list.at(-1);
    if (last?.version === version) return false;
    if (last) last.to = at;
    list.push({ version, policy, from: at, to: Number.POSITIVE_INFINITY });
    this.#versions.set(id, list);
    return true;
  }

  /** When the last policy write of the history landed (shared-clock ms), if any. */
  lastChange(): number | undefined {
    const ends = [...this.#versions.values()].flatMap((list) => list.map((v) => v.to).filter(Number.isFinite));
    return ends.length > 0 ? Math.max(...ends) : undefined;
  }

  current(id: string): PolicyVersion | undefined {
    const last = this.#versions.get(id)?.at(-1);
    return last && last.to === Number.POSITIVE_INFINITY ? last : undefined;
  }

  /**
   * Versions an instance with a cache of `cacheSeconds` may decide under at `at`: current
   * at some moment of (at − cache, at]. `[undefined]` for a policy that was never written.
   */
  possible(id: string, at: number, cacheSeconds: number): (PolicyVersion | undefined)[] {
    const out = (this.#versions.get(id) ?? []).filter((v) => v.from <= at && v.to >= at - cacheSeconds * 1000);
    return out.length > 0 ? out : [undefined];
  }
}

/**
 * Every way an instance may decide a request to `route` at `at` (instance clock
 * `instanceMs`), for each of the subject's possible settings (`undefined`: no session).
 */
export function candidatesFor(
  settings: readonly (KeySettings | undefined)[],
  policies: PolicyHistory,
  instance: InstanceSpec,
  at: number,
  route: Route,
): Candidate[] {
  const out: Candidate[] = [];
  const shut = (s?: KeySettings): Candidate => ({ passes: false, scope: 'key', limits: s ?? NO_LIMITS });
  for (const s of settings) {
    if (s === undefined) {
      out.push(shut());
      continue;
    }
    for (const chosen of combinations(s.applyPolicies.map((id) => policies.possible(id, at, instance.cacheSeconds)))) {
      const applied = chosen.filter((v): v is PolicyVersion => v !== undefined).map((v) => v.policy);
      const effective = effectiveSettings(s, applied);
      if (applied.length < chosen.length || effective.missing.length > 0 || effective.conflicting.length > 0 || effective.inactive) {
        out.push(shut(s));
        continue;
      }
      const { limits, scope } = limitsFor(effective, route.apiId);
      out.push({
        passes: !isExpiredAt(s.expires, at + instance.offsetMs) && permits(effective.accessRights, route),
        scope: scope === 'key' ? 'key' : scope.apiId,
        limits,
      });
    }
  }
  return out;
}

const NO_LIMITS: Limits = { quotaMax: 0, quotaRenewalRate: 0, rate: 0, per: 0 };

function combinations<T>(lists: readonly (readonly T[])[]): T[][] {
  return lists.reduce<T[][]>((acc, list) => acc.flatMap((prefix) => list.map((item) => [...prefix, item])), [[]]);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
