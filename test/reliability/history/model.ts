/**
 * The sequential reference model of docs/ARCHITECTURE.md, "The counting model", checked
 * against every batch of a history. Its only slack is the "Bounds, stated":
 *
 * - policies: an instance may decide under any policy version its cache may still serve;
 * - clocks: each instance judges a window's end by its own clock (offset from the shared one);
 * - lost answers: each may count one request more (err toward denying, never granting);
 * - an admin write running alongside a batch may land before or after any of its requests.
 *
 * SAFETY, always: a request denied under every settings combination in force is denied;
 * the Allows of a batch never exceed what the counters could still grant under the largest
 * limit in force (with one more full window per boundary that may fall in the batch).
 * LIVENESS, where nothing is uncertain (no write alongside, one set of limits on every
 * instance, no window end in doubt): Allows = min(permitted, room) exactly, less at most
 * one per lost answer.
 */
import type { Route } from './routes.ts';
import {
  candidatesFor,
  isExpiredAt,
  passes,
  sameSettings,
  type Candidate,
  type InstanceSpec,
  type KeySettings,
  type Limits,
  PolicyHistory,
} from './settings.ts';
import { WindowTracker, type WindowStatus } from './window.ts';

/** Failed counting writes after which a request fails closed (ARCHITECTURE.md, "Contention"). */
const CONTENTION_BOUND = 8;

export type Outcome = { readonly allow: true } | { readonly allow: false; readonly reason: string } | { readonly error: string };

export interface BatchRequest {
  readonly instance: number;
  readonly route: Route;
}

export interface BatchObservation {
  readonly at: number;
  readonly requests: readonly BatchRequest[];
  readonly outcomes: readonly Outcome[];
  /** Answers lost while the batch ran. */
  readonly lost: number;
  /** An admin write that ran alongside, and whether it answered success. */
  readonly alongside?: { readonly kind: 'settings' | 'reset' | 'policy'; readonly ok: boolean };
  /** The key's settings read back after the batch (a renewal or an admin write may have changed them). */
  readonly settingsAfter: KeySettings;
}

/** What the model can say about a batch before counting it in. */
interface Facts {
  /** Clock offsets of the instances that served the batch. */
  readonly offsets: number[];
  /** The key's settings that may be in force during the batch. */
  readonly possible: KeySettings[];
  /** Per request: the candidates under which it passes, and whether some or all do. */
  readonly perRequest: { readonly passing: Candidate[]; readonly any: boolean; readonly all: boolean }[];
  /** The limits under which some request of the batch may be allowed. */
  readonly limits: Limits[];
  /** Some limits in force have no rate limit (the rate window may then not be counted). */
  readonly rateOff: boolean;
  readonly quotaStatus: WindowStatus;
  readonly rateStatus: WindowStatus;
  readonly maxQuota: number;
  readonly maxRate: number;
  readonly allowed: number;
  /** Codes of the faults requests failed closed with. */
  readonly errors: string[];
  /** Resets that ran alongside (0 or 1). */
  readonly resets: number;
  readonly quotaCap: number;
  readonly rateCap: number;
  /** Why the model cannot predict the batch exactly (empty: it can). */
  readonly doubts: string[];
}

export interface Verdict {
  readonly violations: string[];
  readonly summary: string;
  readonly clean: boolean;
}

export class HistoryModel {
  settings: KeySettings;
  readonly policies = new PolicyHistory();
  readonly quota = new WindowTracker('quota', 999);
  readonly rate = new WindowTracker('rate', 0);

  constructor(
    readonly instances: readonly InstanceSpec[],
    initial: KeySettings,
  ) {
    this.settings = initial;
  }

  /** The key was created at `at` by the admin (clock offset 0): a full quota window from now. */
  created(at: number): void {
    this.quota.reset(at, [this.settings.quotaRenewalRate, ...this.#currentLimits().map((l) => l.quotaRenewalRate)], 'landed', 0);
  }

  /** A standalone reset-quota at `at`. */
  reset(at: number, ok: boolean): void {
    this.quota.reset(
      at,
      this.#currentLimits().map((l) => l.quotaRenewalRate),
      ok ? 'landed' : 'maybe',
      0,
    );
  }

  /** Checks one batch against the model, then counts it in. */
  batch(o: BatchObservation): Verdict {
    const f = this.#facts(o);
    const violations = [...this.#safety(o, f)];
    const expected = f.doubts.length === 0 ? this.#expected(f) : undefined;
    if (expected !== undefined && f.allowed < expected.value - o.lost) {
      const lost = o.lost > 0 ? ` less ${o.lost} lost answer(s)` : '';
      const failed = f.errors.length > 0 ? `; ${f.errors.length} failed closed: ${[...new Set(f.errors)].join(', ')}` : '';
      violations.push(`${f.allowed} allowed, expected ${expected.value}${lost}: ${expected.why}${failed}`);
    }
    this.#countIn(o, f);
    return { violations, summary: this.#summary(o, f, expected?.value), clean: expected !== undefined };
  }

  #facts(o: BatchObservation): Facts {
    const offsets = [...new Set(o.requests.map((r) => this.instances[r.instance]!.offsetMs))];
    const possible = this.#possibleSettings(o);
    const perRequest = o.requests.map((r) => {
      const instance = this.instances[r.instance]!;
      const candidates = candidatesFor(possible, this.policies, instance, o.at);
      const verdicts = candidates.map((c) => passes(c, r.route, o.at + instance.offsetMs));
      return { passing: candidates.filter((_, i) => verdicts[i]), any: verdicts.some(Boolean), all: verdicts.every(Boolean) };
    });
    const limits = perRequest.flatMap((p) => p.passing.map((c) => c.limits));
    const rateOff = limits.some((l) => l.rate === 0);
    const quotaStatus = this.quota.status(o.at, offsets);
    const rateStatus = this.rate.status(o.at, offsets);
    const facts = {
      offsets,
      possible,
      perRequest,
      limits,
      rateOff,
      quotaStatus,
      rateStatus,
      maxQuota: Math.max(0, ...limits.map((l) => l.quotaMax)),
      maxRate: rateOff ? Number.POSITIVE_INFINITY : Math.max(0, ...limits.map((l) => l.rate)),
      allowed: o.outcomes.filter((x) => 'allow' in x && x.allow).length,
      errors: o.outcomes.flatMap((x) => ('error' in x ? [x.error] : [])),
      resets: o.alongside?.kind === 'reset' ? 1 : 0,
    };
    return {
      ...facts,
      quotaCap: this.quota.cap(quotaStatus, facts.maxQuota, facts.resets),
      rateCap: rateOff ? Number.POSITIVE_INFINITY : this.rate.cap(rateStatus, facts.maxRate),
      doubts: this.#doubts(o, facts),
    };
  }

  /** Violations whatever the doubts: forbidden requests allowed, more allowed than any limit could grant, faults within the contention bound. */
  *#safety(o: BatchObservation, f: Facts): Generator<string> {
    for (const [i, x] of o.outcomes.entries()) {
      if ('allow' in x && x.allow && !f.perRequest[i]!.any) {
        const r = o.requests[i]!;
        yield `request ${i} (${r.route.name} on instance ${r.instance}) was allowed, but every setting in force denies it`;
      }
    }
    if (f.allowed > f.quotaCap) {
      const reset = f.resets ? ', a reset alongside' : '';
      yield `${f.allowed} allowed, but the quota could grant at most ${f.quotaCap} (limit ≤ ${f.maxQuota}, ${this.quota.describe()}, window ${f.quotaStatus}${reset})`;
    }
    if (f.allowed > f.rateCap) {
      yield `${f.allowed} allowed, but the rate limit could grant at most ${f.rateCap} (limit ≤ ${f.maxRate}, ${this.rate.describe()}, window ${f.rateStatus})`;
    }
    // "A request whose write fails 8 times in a row fails closed": each failure is another
    // request's write, a re-sent write after a lost answer, or a first write on remembered
    // settings that are out of date. With fewer than 8 of those, nothing may fail closed.
    const mostFailures = o.requests.length + o.lost;
    if (f.errors.length > 0 && !o.alongside && f.possible.length === 1 && mostFailures < CONTENTION_BOUND) {
      yield `${f.errors.length} request(s) failed closed (${[...new Set(f.errors)].join(', ')}), though no write could fail more than ${mostFailures} times`;
    }
  }

  /** Exactly how many requests must be allowed, when nothing is in doubt. */
  #expected(f: Facts): { value: number; why: string } {
    const permitted = f.perRequest.filter((p) => p.all).length;
    const l = f.limits[0];
    const sure = (status: WindowStatus) => status as Exclude<WindowStatus, 'unsure'>;
    const quotaRoom = l === undefined ? 0 : this.quota.floor(sure(f.quotaStatus), l.quotaMax);
    const rateRoom = l === undefined || l.rate === 0 ? Number.POSITIVE_INFINITY : this.rate.floor(sure(f.rateStatus), l.rate);
    return {
      value: Math.min(permitted, quotaRoom, rateRoom),
      why: `min(permitted ${permitted}, quota room ${quotaRoom}, rate room ${rateRoom})`,
    };
  }

  /** Counts the batch into both windows (one write counts a request in both, or in neither). */
  #countIn(o: BatchObservation, f: Facts): void {
    const quotaLengths = lengthsOr(
      f.limits.map((l) => l.quotaRenewalRate),
      this.settings.quotaRenewalRate,
    );
    const rateLengths = lengthsOr(
      f.limits.map((l) => l.per),
      this.settings.per,
    );
    const counted = { allowed: f.allowed, lost: o.lost, at: o.at, offsets: f.offsets };
    this.quota.count(f.quotaStatus, { ...counted, counted: 'yes', lengths: quotaLengths, maxLimit: f.maxQuota });
    this.rate.count(f.rateStatus, { ...counted, counted: f.rateOff ? 'maybe' : 'yes', lengths: rateLengths, maxLimit: f.maxRate });
    if (o.alongside?.kind === 'reset') {
      const lengths = [...quotaLengths, ...this.#currentLimits().map((l) => l.quotaRenewalRate)];
      this.quota.reset(o.at, lengths, o.alongside.ok ? 'landed' : 'maybe', f.allowed + o.lost);
    }
    this.settings = o.settingsAfter;
  }

  #summary(o: BatchObservation, f: Facts, expected: number | undefined): string {
    const most = Math.min(f.perRequest.filter((p) => p.any).length, f.quotaCap, f.rateCap);
    const sure =
      expected === undefined
        ? `unsure: ${f.doubts.join(', ')}`
        : `expected ${expected < most ? `${Math.max(0, expected - o.lost)}–${most}` : expected}`;
    const extra = `${o.lost ? `, ${o.lost} lost` : ''}${f.errors.length ? `, failed closed: ${f.errors.join(' ')}` : ''}`;
    const denied = o.outcomes.flatMap((x) => ('reason' in x ? [x.reason] : []));
    const reasons = denied.length > 0 ? `; denied: ${tally(denied)}` : '';
    return `allowed ${f.allowed}/${o.requests.length}${reasons} (${sure}; caps quota ${f.quotaCap}, rate ${f.rateCap}${extra}) → ${this.quota.describe()}, ${this.rate.describe()}`;
  }

  /** Whether a renewal hook may change the key's settings during a batch of `requests` at `at`. */
  mayRenew(requests: readonly BatchRequest[], at: number): boolean {
    return requests.some(
      (r) => this.instances[r.instance]!.renews && isExpiredAt(this.settings.expires, at + this.instances[r.instance]!.offsetMs),
    );
  }

  /** The key's settings that may be in force during the batch: before, after, and renewed. */
  #possibleSettings(o: BatchObservation): KeySettings[] {
    const possible = [this.settings];
    if (!sameSettings(o.settingsAfter, this.settings)) possible.push(o.settingsAfter);
    for (const r of o.requests) {
      const instance = this.instances[r.instance]!;
      const nowMs = o.at + instance.offsetMs;
      for (const s of [...possible]) {
        if (instance.renews && isExpiredAt(s.expires, nowMs)) possible.push({ ...s, expires: Math.floor(nowMs / 1000) + 60 });
      }
    }
    return possible;
  }

  /** Why the model cannot say exactly how many requests must be allowed (empty: it can). */
  #doubts(o: BatchObservation, f: Pick<Facts, 'possible' | 'perRequest' | 'limits' | 'quotaStatus' | 'rateStatus'>): string[] {
    const doubts: string[] = [];
    if (o.alongside) doubts.push(`${o.alongside.kind} write alongside`);
    if (f.possible.length > 1) doubts.push('settings changed');
    if (f.perRequest.some((p) => p.any !== p.all)) doubts.push('rights/expiry in doubt');
    if (new Set(f.limits.map((l) => JSON.stringify(l))).size > 1) doubts.push('limits in doubt (policy cache)');
    if (f.limits.length > 0 && f.quotaStatus === 'unsure') doubts.push('quota window end in doubt');
    if (f.limits.length > 0 && f.limits[0]!.rate > 0 && f.rateStatus === 'unsure') doubts.push('rate window end in doubt');
    return doubts;
  }

  /** The limits the admin sees now (strong reads: the current policy version). */
  #currentLimits(): Limits[] {
    const id = this.settings.applyPolicies[0];
    const policy = id === undefined ? undefined : this.policies.current(id);
    return [policy?.limits ?? this.settings];
  }
}

function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => (n > 1 ? `${v} ×${n}` : v)).join(', ');
}

function lengthsOr(lengths: readonly number[], fallback: number): number[] {
  return lengths.length > 0 ? [...new Set(lengths)] : [fallback];
}
