/**
 * What the model keeps per subject (the API key, the JWT identity) and per scope (its own
 * counters, or an API's with a per-API limit), and what it works out per scope for a
 * batch: which windows are in force, how many Allows may count there, the caps and the
 * exact expectation.
 */
import type { BatchObservation, Who } from './observation.ts';
import type { Candidate, InstanceSpec, KeySettings, Limits, Scope } from './settings.ts';
import { WindowTracker, type WindowStatus } from './window.ts';

/** The counters of one scope. */
export interface Windows {
  readonly quota: WindowTracker;
  readonly rate: WindowTracker;
}

/** A session the history counts on: its settings (as known to the model) and its scopes' windows. */
export class Subject {
  readonly scopes = new Map<Scope, Windows>();

  constructor(
    public settings: KeySettings | undefined,
    /** When its counters last started from nothing (creation or reset), shared-clock ms. */
    public since: number,
  ) {}

  windows(scope: Scope): Windows {
    let w = this.scopes.get(scope);
    if (w === undefined) {
      w = { quota: new WindowTracker(`${scope} quota`, 999, this.since), rate: new WindowTracker(`${scope} rate`, 999, this.since) };
      this.scopes.set(scope, w);
    }
    return w;
  }
}

/** Per request: the ways it may be decided under which it passes, and whether some or all do. */
export interface RequestFacts {
  readonly passing: Candidate[];
  readonly any: boolean;
  readonly all: boolean;
  /** Distinct (scope, limits) among the passing candidates. */
  readonly ways: number;
  readonly scopes: Set<Scope>;
}

export interface ScopeFacts {
  readonly who: Who;
  readonly scope: Scope;
  readonly quotaStatus: WindowStatus;
  readonly rateStatus: WindowStatus;
  readonly maxQuota: number;
  readonly maxRate: number;
  readonly quotaCounted: boolean;
  readonly rateCounted: boolean;
  /** Allowed requests counted here certainly, and those that may be counted here or elsewhere. */
  readonly sure: number;
  readonly maybe: number;
  readonly quotaCap: number;
  readonly rateCap: number;
  /** Allows the previous window may still take (a spread subject, an instance's clock behind): in the caps. */
  readonly quotaOverlap: number;
  readonly rateOverlap: number;
  readonly offsets: number[];
}

export function scopeFacts(
  instances: readonly InstanceSpec[],
  o: BatchObservation,
  subject: Subject,
  who: Who,
  scope: Scope,
  mine: readonly number[],
  facts: readonly RequestFacts[],
  allowed: (i: number) => boolean,
  spread: boolean,
): ScopeFacts {
  const here = mine.filter((i) => facts[i]!.scopes.has(scope));
  const limits: Limits[] = here.flatMap((i) => facts[i]!.passing.filter((c) => c.scope === scope).map((c) => c.limits));
  const own = here.map((i) => instances[o.requests[i]!.instance]!.offsetMs);
  // A held request judged its windows by its clock at any moment from the hold to its release.
  const heldFor = o.held === undefined ? undefined : o.at - o.held.since;
  const offsets = [...new Set(heldFor === undefined ? own : [...own, ...own.map((offset) => offset - heldFor)])];
  const quotaCounted = limits.every((l) => l.quotaMax !== -1);
  const rateCounted = limits.every((l) => l.rate > 0);
  const w = subject.windows(scope);
  const quotaLengths = [...new Set(limits.map((l) => l.quotaRenewalRate))];
  const quotaStatus = w.quota.status(o.at, offsets, quotaLengths);
  const rateLengths = [...new Set(limits.filter((l) => l.rate > 0).map((l) => l.per))];
  const rateStatus = rateLengths.length > 0 ? w.rate.status(o.at, offsets, rateLengths) : 'over';
  const maxQuota = quotaCounted ? Math.max(0, ...limits.map((l) => l.quotaMax)) : Number.POSITIVE_INFINITY;
  const maxRate = rateCounted ? Math.max(0, ...limits.map((l) => l.rate)) : Number.POSITIVE_INFINITY;
  const resets = o.alongside?.kind === 'reset' && who === 'key' ? 1 : 0;
  const quotaOverlap = spread && quotaCounted ? w.quota.overlap(o.at, offsets, quotaLengths, maxQuota) : 0;
  const rateOverlap = spread && rateCounted ? w.rate.overlap(o.at, offsets, rateLengths, maxRate) : 0;
  return {
    who,
    scope,
    quotaStatus,
    rateStatus,
    maxQuota,
    maxRate,
    quotaCounted,
    rateCounted,
    sure: here.filter((i) => allowed(i) && facts[i]!.scopes.size === 1).length,
    maybe: here.filter((i) => allowed(i) && facts[i]!.scopes.size > 1).length,
    quotaCap: quotaCounted ? w.quota.cap(quotaStatus, maxQuota, resets) + quotaOverlap : Number.POSITIVE_INFINITY,
    rateCap: rateCounted ? w.rate.cap(rateStatus, maxRate) + rateOverlap : Number.POSITIVE_INFINITY,
    quotaOverlap,
    rateOverlap,
    offsets,
  };
}

/** Exactly how many of a subject's requests must be allowed, when nothing is in doubt. */
export function expectedAllows(
  subject: Subject,
  scopes: readonly ScopeFacts[],
  mine: readonly number[],
  facts: readonly RequestFacts[],
): { value: number; why: string } {
  let value = 0;
  const why: string[] = [];
  for (const s of scopes) {
    const permitted = mine.filter((i) => facts[i]!.all && facts[i]!.scopes.has(s.scope)).length;
    const l = facts[mine.find((i) => facts[i]!.scopes.has(s.scope))!]!.passing[0]!.limits;
    const w = subject.windows(s.scope);
    const sure = (status: WindowStatus) => status as Exclude<WindowStatus, 'unsure'>;
    const quotaRoom = l.quotaMax === -1 ? Number.POSITIVE_INFINITY : w.quota.floor(sure(s.quotaStatus), l.quotaMax);
    const rateRoom = l.rate === 0 ? Number.POSITIVE_INFINITY : w.rate.floor(sure(s.rateStatus), l.rate);
    value += Math.min(permitted, quotaRoom, rateRoom);
    why.push(`${s.scope}: min(permitted ${permitted}, quota room ${quotaRoom}, rate room ${rateRoom})`);
  }
  return { value, why: why.join('; ') };
}
