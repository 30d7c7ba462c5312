/**
 * What the model (model.ts) works out of one batch without changing its state: how each
 * request may be decided, the violations of its bounds, why it may not say exactly how
 * many Allows are due, the contention check, and the batch's line in the trace.
 */
import type { BatchObservation, Who } from './observation.ts';
import { candidatesFor, type InstanceSpec, type KeySettings, type PolicyHistory } from './settings.ts';
import type { RequestFacts, ScopeFacts, Subject } from './subject.ts';

/** Failed counting writes after which a request fails closed (ARCHITECTURE.md, "Contention"). */
const CONTENTION_BOUND = 8;

/**
 * Per request of `o`: the ways it may be decided under the settings that may be in force
 * (`possible`, per subject) and the policy versions its instance may serve — at the batch,
 * and for a held request at the hold too.
 */
export function requestFacts(
  instances: readonly InstanceSpec[],
  policies: PolicyHistory,
  possible: Record<Who, (KeySettings | undefined)[]>,
  o: BatchObservation,
): RequestFacts[] {
  return o.requests.map((r): RequestFacts => {
    const instance = instances[r.instance]!;
    const candidates = candidatesFor(possible[r.who], policies, instance, o.at, r.route);
    if (o.held !== undefined) candidates.push(...candidatesFor(possible[r.who], policies, instance, o.held.since, r.route));
    const passing = candidates.filter((c) => c.passes);
    return {
      passing,
      any: passing.length > 0,
      all: passing.length === candidates.length,
      ways: new Set(passing.map((c) => JSON.stringify([c.scope, c.limits]))).size,
      scopes: new Set(passing.map((c) => c.scope)),
    };
  });
}

/** Requests allowed though every setting that may be in force denies them. */
export function allowedAgainstEverySetting(o: BatchObservation, facts: readonly RequestFacts[], allowed: (i: number) => boolean): string[] {
  const violations: string[] = [];
  for (const [i, f] of facts.entries()) {
    if (allowed(i) && !f.any) {
      const r = o.requests[i]!;
      violations.push(
        `request ${i} (${r.who} ${r.route.name} on instance ${r.instance}) was allowed, but every setting in force denies it`,
      );
    }
  }
  return violations;
}

/** Scopes of a subject whose certain Allows exceed what their quota or rate counters could still grant. */
export function overCaps(o: BatchObservation, who: Who, subject: Subject, scopes: readonly ScopeFacts[]): string[] {
  const violations: string[] = [];
  for (const s of scopes) {
    const w = subject.windows(s.scope);
    const reset = o.alongside?.kind === 'reset' && who === 'key' ? ', a reset alongside' : '';
    if (s.sure > s.quotaCap) {
      violations.push(
        `${who}: ${s.sure} allowed in scope ${s.scope}, but its quota could grant at most ${s.quotaCap} (limit ≤ ${s.maxQuota}, ${w.quota.describe()}, window ${s.quotaStatus}${reset})`,
      );
    }
    if (s.sure > s.rateCap) {
      violations.push(
        `${who}: ${s.sure} allowed in scope ${s.scope}, but its rate limit could grant at most ${s.rateCap} (limit ≤ ${s.maxRate}, ${w.rate.describe()}, window ${s.rateStatus})`,
      );
    }
  }
  return violations;
}

/**
 * A subject's Allows short of those due (`expected`), less one per lost answer and the
 * unspent leases (`slack`); a request that failed closed where faults are allowed (see
 * {@link contention}) is excused: it was not decided.
 */
export function shortOfExpected(
  o: BatchObservation,
  who: Who,
  mine: readonly number[],
  got: number,
  expected: { value: number; why: string },
  slack: number,
): string | undefined {
  const faults = mine.filter((i) => 'error' in o.outcomes[i]!).length;
  if (got + faults >= expected.value - o.lost - slack) return undefined;
  const lost = `${o.lost > 0 ? ` less ${o.lost} lost answer(s)` : ''}${slack > 0 ? ` less ${slack} unspent lease(s)` : ''}`;
  const errors = mine.flatMap((i) => ('error' in o.outcomes[i]! ? [o.outcomes[i]!.error] : []));
  const failed = errors.length > 0 ? `; ${errors.length} failed closed: ${[...new Set(errors)].join(', ')}` : '';
  return `${who}: ${got} allowed, expected ${expected.value}${lost}: ${expected.why}${failed}`;
}

/** Why the model cannot say exactly how many of a subject's requests must be allowed (empty: it can). */
export function doubtsOf(
  o: BatchObservation,
  mine: readonly number[],
  facts: readonly RequestFacts[],
  scopes: readonly ScopeFacts[],
  possible: number,
  hooked: boolean,
): string[] {
  const doubts: string[] = [];
  if (o.alongside) doubts.push(`${o.alongside.kind} write alongside`);
  if (o.held) doubts.push('held across other steps');
  if (possible > 1) doubts.push('settings changed');
  if (hooked) doubts.push('hook writes');
  if (mine.some((i) => facts[i]!.any !== facts[i]!.all)) doubts.push('rights/expiry in doubt');
  if (mine.some((i) => facts[i]!.ways > 1)) doubts.push('limits in doubt (policy cache)');
  const limitsOf = (s: ScopeFacts) => facts[mine.find((i) => facts[i]!.scopes.has(s.scope))!]!.passing[0]!.limits;
  if (scopes.some((s) => s.quotaCounted && s.quotaStatus === 'unsure')) doubts.push('quota window end in doubt');
  if (scopes.some((s) => limitsOf(s).rate > 0 && s.rateStatus === 'unsure')) doubts.push('rate window end in doubt');
  return doubts;
}

/**
 * "A request whose write fails 8 times in a row fails closed" (throttling aside): each failure is another
 * request's write, a re-sent write after a lost answer, or a first write on remembered
 * settings that are out of date. With fewer than 8 of those, nothing may fail closed.
 */
export function contention(o: BatchObservation, possible: Record<Who, unknown[]>, hooked: boolean): string[] {
  // Under a history's tiny ceiling (W of 3–5, `leases` read), a request throttled, or out of steps
  // on throttled items, is DynamoDB not taking it, not contention: it fails closed, counted in the
  // closing line; the bench holds the share of 500s.
  const underCeiling = o.leases !== undefined;
  const errors = o.outcomes.flatMap((x) =>
    'error' in x && !(underCeiling && /ProvisionedThroughputExceeded|Throttling|ERR_CONTENTION/.test(x.error)) ? [x.error] : [],
  );
  const mostFailures = o.requests.length + o.lost;
  const settled = possible.key.length === 1 && possible.jwt.length === 1 && !hooked && !o.alongside;
  if (errors.length === 0 || !settled || mostFailures >= CONTENTION_BOUND) return [];
  return [
    `${errors.length} request(s) failed closed (${[...new Set(errors)].join(', ')}), though no write could fail more than ${mostFailures} times`,
  ];
}

/** A subject's line in the trace: its Allows, denials and faults, what was due or why unsure, the caps, its windows after. */
export function subjectSummary(
  o: BatchObservation,
  who: Who,
  mine: readonly number[],
  got: number,
  scopes: readonly ScopeFacts[],
  subject: Subject,
  expected: number | undefined,
  doubts: readonly string[],
  slack: number,
): string {
  const sure =
    expected === undefined ? `unsure: ${doubts.join(', ')}` : `expected ${expected}${slack > 0 ? ` less ≤ ${slack} unspent` : ''}`;
  const caps = scopes.map((s) => `${s.scope} ≤ ${Math.min(s.quotaCap, s.rateCap)}`).join(', ');
  const denied = mine.flatMap((i) => ('reason' in o.outcomes[i]! ? [o.outcomes[i]!.reason] : []));
  const errors = mine.flatMap((i) => ('error' in o.outcomes[i]! ? [o.outcomes[i]!.error] : []));
  const extra = `${o.lost ? `, ${o.lost} lost` : ''}${errors.length ? `, failed closed: ${errors.join(' ')}` : ''}`;
  const reasons = denied.length > 0 ? `; denied: ${tally(denied)}` : '';
  const state = [...subject.scopes.values()].map((w) => `${w.quota.describe()}, ${w.rate.describe()}`).join('; ');
  return `${who}: allowed ${got}/${mine.length}${reasons} (${sure}; caps ${caps || 'none'}${extra}) → ${state}`;
}

/** `values` counted: `a ×2, b`. */
function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => (n > 1 ? `${v} ×${n}` : v)).join(', ');
}
