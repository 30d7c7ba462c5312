/**
 * The settings side of the reference model: a key's settings, the versions of each policy
 * and when each was current, and which combinations an instance may decide under at a
 * given moment — the key's settings before or after a write running alongside, and any
 * policy version the instance's cache may still serve ("Policies: up to
 * policyCacheSeconds of old limits per instance after a policy change").
 */
import { permits, type Rights, type Route } from './routes.ts';

export interface Limits {
  /** Requests per quota window (never -1 in a history: every key has a quota). */
  readonly quotaMax: number;
  /** Quota window length, s (never 0 in a history). */
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
}

export interface PolicyVersion {
  readonly version: number;
  readonly limits: Limits;
  readonly rights: Rights;
  /** Shared-clock ms from which, and until which, this version was the stored one. */
  readonly from: number;
  to: number;
}

/** One way a request may be decided: the settings and policy versions an instance may hold. */
export interface Candidate {
  readonly limits: Limits;
  readonly rights: Rights;
  readonly expires: number;
  /** Inactive, or a policy it names does not exist: every request is denied. */
  readonly shut: boolean;
}

export function limitsOf(s: Limits): Limits {
  return { quotaMax: s.quotaMax, quotaRenewalRate: s.quotaRenewalRate, rate: s.rate, per: s.per };
}

export function sameSettings(a: KeySettings, b: KeySettings): boolean {
  return canonical(a) === canonical(b);
}

export function isExpiredAt(expires: number, instanceMs: number): boolean {
  return expires > 0 && Math.floor(instanceMs / 1000) >= expires;
}

/** Whether a candidate lets a request on an instance whose clock reads `instanceMs` through the checks before counting. */
export function passes(c: Candidate, route: Route, instanceMs: number): boolean {
  return !c.shut && !isExpiredAt(c.expires, instanceMs) && permits(c.rights, route);
}

export class PolicyHistory {
  readonly #versions = new Map<string, PolicyVersion[]>();

  /** Records the version read back after a write (or at the start); a new version ends the previous one at `at`. */
  record(id: string, version: number, limits: Limits, rights: Rights, at: number): boolean {
    const list = this.#versions.get(id) ?? [];
    const last = list.at(-1);
    if (last?.version === version) return false;
    if (last) last.to = at;
    list.push({ version, limits: limitsOf(limits), rights, from: at, to: Number.POSITIVE_INFINITY });
    this.#versions.set(id, list);
    return true;
  }

  /** When the last policy write of the history landed (shared-clock ms), if any. */
  lastChange(): number | undefined {
    const ends = [...this.#versions.values()].flatMap((list) => list.slice(0, -1).map((v) => v.to));
    return ends.length > 0 ? Math.max(...ends) : undefined;
  }

  current(id: string): PolicyVersion | undefined {
    return this.#versions.get(id)?.at(-1);
  }

  /**
   * Versions an instance with a cache of `cacheSeconds` may decide under at `at`: current
   * at some moment of (at − cache, at] — or at `at` itself, for a write running alongside.
   */
  possible(id: string, at: number, cacheSeconds: number): PolicyVersion[] {
    return (this.#versions.get(id) ?? []).filter((v) => v.from <= at && v.to >= at - cacheSeconds * 1000);
  }
}

/** Every candidate an instance may hold at `at`, for each of the key's possible settings. */
export function candidatesFor(settings: readonly KeySettings[], policies: PolicyHistory, instance: InstanceSpec, at: number): Candidate[] {
  const out: Candidate[] = [];
  for (const s of settings) {
    if (s.applyPolicies.length > 1) throw new Error('history checker: at most one policy per key');
    const id = s.applyPolicies[0];
    if (id === undefined) {
      out.push({ limits: limitsOf(s), rights: s.accessRights, expires: s.expires, shut: s.isInactive });
      continue;
    }
    const versions = policies.possible(id, at, instance.cacheSeconds);
    if (versions.length === 0) out.push({ limits: limitsOf(s), rights: {}, expires: s.expires, shut: true });
    for (const v of versions) out.push({ limits: v.limits, rights: v.rights, expires: s.expires, shut: s.isInactive });
  }
  return out;
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
