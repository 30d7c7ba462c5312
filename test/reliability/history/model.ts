/**
 * The sequential reference model of docs/ARCHITECTURE.md, "The counting model", checked
 * against every batch of a history. It knows only the writes the history issued, what the
 * admin API reads back, and the outcomes of authorizations — never a stored counter. Its
 * only slack is the stated bounds:
 *
 * - policies: an instance may decide under any policy version its cache may still serve;
 * - clocks: each instance judges a window's end by its own clock (offset from the shared one);
 * - lost answers: each may count one request more (err toward denying, never granting);
 * - a write running alongside a batch (admin, policy, or a hook's `updateSession`) may land
 *   before or after any of its requests;
 * - a hook's write asked by a request that failed closed may still be on its way when the
 *   request answers (the hook ran past its deadline, or DynamoDB's answer timed out): it may
 *   land after the settings are read back, in any later batch, until a reset (it always moves
 *   the key's version) has landed and the settings are read back, or the key is made again.
 *
 * Counting, per subject (the API key, the JWT identity) and per scope (the subject's own
 * counters, or an API's with a per-API limit): a change of limits never changes a counter;
 * the length in force measures the window in progress from its start (window.ts); a reset
 * starts new windows for every scope; nothing lands on a re-created key.
 *
 * SAFETY, always: a request denied under every settings state that may be in force is
 * denied; in each scope, the Allows that certainly count there never exceed what its
 * counters could still grant under the largest limit in force (one more full window per
 * boundary that may fall in the batch). LIVENESS, where nothing is uncertain (no write
 * alongside, one way to decide every request, no window end in doubt): Allows =
 * Σ over scopes min(permitted, room) exactly, less at most one per lost answer.
 */
import {
  allowedAgainstEverySetting,
  contention,
  doubtsOf,
  overCaps,
  requestFacts,
  shortOfExpected,
  subjectSummary,
} from './batch-checks.ts';
import type { LeaseView } from './hot-keys.ts';
import type { BatchObservation, BatchRequest, Verdict, Who } from './observation.ts';
import type { Route } from './routes.ts';
import { candidatesFor, type InstanceSpec, type KeySettings, PolicyHistory, type Scope } from './settings.ts';
import { SettingsInDoubt } from './settings-in-doubt.ts';
import { StaleDenials } from './stale-denials.ts';
import { expectedAllows, type ScopeFacts, Subject, scopeFacts } from './subject.ts';

/** The reference model of one history: what it knows of the key, the JWT identity and the policies, and its check of each batch. */
export class HistoryModel {
  readonly policies = new PolicyHistory();
  readonly stale = new StaleDenials();
  /** The key's settings a batch's hooks may write, and hook writes still on their way. */
  readonly inDoubt: SettingsInDoubt;
  /** Allows certainly counted in a per-API scope (for the closing line). */
  scopedAllows = 0;
  key: Subject;
  readonly jwt: Subject;

  constructor(
    readonly instances: readonly InstanceSpec[],
    initial: KeySettings,
    createdAt: number,
    jwtPolicy: string,
  ) {
    this.key = new Subject(initial, createdAt);
    this.inDoubt = new SettingsInDoubt(instances);
    const identity = { quotaMax: 0, quotaRenewalRate: 0, rate: 0, per: 0, expires: 0, isInactive: false, accessRights: {} };
    this.jwt = new Subject({ ...identity, applyPolicies: [jwtPolicy] }, createdAt);
  }

  get settings(): KeySettings | undefined {
    return this.key.settings;
  }

  set settings(s: KeySettings | undefined) {
    this.key.settings = s;
  }

  /** The key was deleted and created again at `at` (`wasSpread`: the old one was spread): new counters, nothing of the old key's. */
  recreated(at: number, settings: KeySettings | undefined, wasSpread = false): void {
    this.key = new Subject(settings, at);
    // A write still on its way carries the old life's incarnation: it can no longer land.
    this.inDoubt.settled();
    // An instance deciding on the old key's remembered settings may repeat its denial for a second (or deny on its spread session item).
    this.stale.changed('key', at, wasSpread);
  }

  /** A standalone reset-quota at `at`: new quota windows for every scope of the key (rate windows stand). */
  reset(at: number, ok: boolean): void {
    this.#resetKey(at, ok ? 'landed' : 'maybe', () => 0);
  }

  /**
   * A change that certainly moved the key's version (a reset: every reset does) landed, and
   * `after` was read back after it: a hook write still on its way was guarded on an older
   * version and can no longer land; one that landed before is in `after`.
   */
  landed(after: KeySettings | undefined): void {
    this.key.settings = after;
    this.inDoubt.settled();
  }

  /** Hook writes of the key that may still land (for the trace and tests). */
  get inFlight(): readonly Partial<KeySettings>[] {
    return this.inDoubt.inFlight;
  }

  /** Whether a hook may change the key's settings during a batch of `requests` at `at`. */
  mayWrite(requests: readonly BatchRequest[], at: number): boolean {
    return this.inDoubt.mayWrite(this.key.settings, requests, at);
  }

  /** The start and end (instance time) of the key's own quota or rate window under the limits in force now. */
  windowEnd(kind: 'quota' | 'rate', at: number, route: Route): [number, number] | undefined {
    const s = this.key.settings;
    if (s === undefined) return undefined;
    const [c] = candidatesFor([s], this.policies, { offsetMs: 0, cacheSeconds: 0, renews: false, hooks: false }, at, route);
    if (c === undefined || !c.passes) return undefined;
    const w = this.key.windows(c.scope);
    return kind === 'quota' ? w.quota.end(c.limits.quotaRenewalRate) : c.limits.rate > 0 ? w.rate.end(c.limits.per) : undefined;
  }

  /**
   * Checks one batch against the model, then counts it in.
   *
   * A held request (`o.held`) was decided on what it read at the hold, by its write landing
   * after the steps held across — or, if that write's condition failed, on what it read
   * again once let go. So the model accepts of it: an Allow only if some setting in force
   * at the hold or at the release permits it (by the instance's policy cache and expiry at
   * either moment); counted once, in the scope(s) it may count in, in the window in force
   * when it landed, judged by the instance's clock anywhere from the hold to the release (a
   * window end in between is one more boundary, as for a batch that spans it); a denial or
   * a throttled failure always — it is never expected to be allowed (its view is as old as
   * the hold). Nothing else about the steps held across changes: they see none of it.
   */
  batch(o: BatchObservation): Verdict {
    const violations: string[] = [];
    const summaries: string[] = [];
    let clean = true;
    const possible = { key: this.inDoubt.possible(this.key.settings, o), jwt: [this.jwt.settings] };
    const facts = requestFacts(this.instances, this.policies, possible, o);
    const allowed = (i: number) => {
      const x = o.outcomes[i]!;
      return 'allow' in x && x.allow;
    };
    violations.push(...allowedAgainstEverySetting(o, facts, allowed));
    const hooked = o.requests.some((r) => r.hook !== undefined && this.instances[r.instance]!.hooks);
    for (const who of ['key', 'jwt'] as const) {
      const mine = o.requests.flatMap((r, i) => (r.who === who ? [i] : []));
      if (mine.length === 0) continue;
      const subject = who === 'key' ? this.key : this.jwt;
      const leases = o.leases?.[who];
      const spread = leases !== undefined && (leases.before.shards > 0 || leases.after.shards > 0);
      const scopes = [...new Set(mine.flatMap((i) => [...facts[i]!.scopes]))].map((scope) =>
        scopeFacts(this.instances, o, subject, who, scope, mine, facts, allowed, spread),
      );
      violations.push(...overCaps(o, who, subject, scopes));
      // A spread key may deny while counter items it did not try hold unspent leases (after the batch), or on a
      // session item seen before a cooling gave leases back (before it).
      const slack = spread ? leases.before.total + leases.after.total : 0;
      const doubts = doubtsOf(o, mine, facts, scopes, possible[who].length, hooked);
      const stale = this.stale.doubt(who, o.at, spread);
      if (stale !== undefined) doubts.push(stale);
      const got = mine.filter(allowed).length;
      let expected: { value: number; why: string } | undefined;
      if (doubts.length === 0) {
        expected = expectedAllows(subject, scopes, mine, facts);
        const short = shortOfExpected(o, who, mine, got, expected, slack);
        if (short !== undefined) violations.push(short);
      } else clean = false;
      this.#countIn(o, subject, scopes);
      const limitDenials = mine.filter((i) => {
        const x = o.outcomes[i]!;
        return 'reason' in x && (x.reason === 'quota_exceeded' || x.reason === 'rate_limited');
      });
      this.stale.denied(
        who,
        o.at,
        limitDenials.map((i) => o.requests[i]!.instance),
      );
      // A change during the batch revoked leases no read saw (a fill may have come between): the model no longer knows the room.
      const revokes = o.alongside !== undefined && (who === 'key' || o.alongside.kind === 'policy');
      const writes = o.requests.some((r) => r.who === who && r.hook !== undefined && this.instances[r.instance]!.hooks);
      const late = who === 'key' && this.inDoubt.inFlight.length > 0;
      if (spread && (revokes || writes || late || (who === 'key' && this.mayWrite(o.requests, o.at)))) this.revoked(who, 'unknown');
      summaries.push(subjectSummary(o, who, mine, got, scopes, subject, expected?.value, doubts, slack));
    }
    // A raise is seen up to a second late too (a denial remembered under settings this instance remembers).
    if (o.alongside !== undefined) this.stale.changed('key', o.at);
    if (o.alongside?.kind === 'policy') this.stale.changed('jwt', o.at);
    if (this.mayWrite(o.requests, o.at)) this.stale.changed('key', o.at);
    if (o.requests.some((r) => r.who === 'jwt' && r.hook !== undefined && this.instances[r.instance]!.hooks))
      this.stale.changed('jwt', o.at);
    violations.push(...contention(o, possible, hooked));
    if (o.alongside?.kind === 'reset') {
      const counted = new Map<Scope, number>();
      for (const [i, r] of o.requests.entries()) {
        if (r.who !== 'key' || !allowed(i)) continue;
        for (const s of facts[i]!.scopes) counted.set(s, (counted.get(s) ?? 0) + 1);
      }
      this.#resetKey(o.at, o.alongside.ok ? 'landed' : 'maybe', (scope) => (counted.get(scope) ?? 0) + o.lost);
    }
    // A reset that landed alongside moved the version: earlier writes on their way can no longer land (read back after the batch).
    if (o.alongside?.kind === 'reset' && o.alongside.ok) this.inDoubt.settled();
    this.inDoubt.keepInFlight(o, possible.key);
    this.key.settings = o.settingsAfter;
    return { violations, summary: summaries.join('\n      '), clean };
  }

  /** Counts the batch into each scope's windows (one write counts a request in both, or in neither). */
  #countIn(o: BatchObservation, subject: Subject, scopes: readonly ScopeFacts[]): void {
    for (const s of scopes) {
      if (s.scope !== 'key') this.scopedAllows += s.sure;
      const w = subject.windows(s.scope);
      const counted = { sure: s.sure, maybe: s.maybe, lost: o.lost, at: o.at, offsets: s.offsets };
      w.quota.count(s.quotaStatus, { ...counted, counted: s.quotaCounted, maxLimit: s.maxQuota, overlap: s.quotaOverlap });
      w.rate.count(s.rateStatus, { ...counted, counted: s.rateCounted, maxLimit: s.maxRate, overlap: s.rateOverlap });
    }
  }

  /**
   * A change revoked a spread subject's leases (every change deletes the counter items): their
   * unspent requests stay counted on the session item, in each window they were taken in —
   * `view` read just before the change, or `'unknown'` (no room left the model can be sure of).
   */
  revoked(who: Who, view: LeaseView | 'unknown'): void {
    const subject = who === 'key' ? this.key : this.jwt;
    for (const [scope, w] of subject.scopes) {
      const leases = view === 'unknown' ? { quota: Number.POSITIVE_INFINITY, rate: Number.POSITIVE_INFINITY } : view.unspent.get(scope);
      if (leases === undefined) continue;
      w.quota.leak(leases.quota);
      w.rate.leak(leases.rate);
    }
  }

  #resetKey(at: number, outcome: 'landed' | 'maybe', countedAlongside: (scope: Scope) => number): void {
    this.stale.changed('key', at);
    if (outcome === 'landed') this.key.since = at;
    for (const [scope, w] of this.key.scopes) w.quota.reset(at, outcome, countedAlongside(scope));
  }
}
