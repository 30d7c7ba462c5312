/**
 * Random histories (fast-check): two or three instances, a key, two policies, and 20–40
 * operations — batches of concurrent authorizations (some with an admin write alongside),
 * admin writes, policy writes, clock steps and lost answers. Every history prints as a
 * numbered list of operations, so a shrunk counterexample reads as a script.
 */
import fc from 'fast-check';
import { describeHistory } from './describe.ts';
import { RIGHTS, ROUTES } from './routes.ts';
import type { InstanceSpec } from './settings.ts';

export type PolicyName = 'gold' | 'free';
export type PolicyChoice = 'none' | PolicyName | 'missing';

export interface PolicySpec {
  readonly quotaMax: number;
  readonly quotaRenewalRate: number;
  readonly rate: number;
  readonly per: number;
}

export interface KeySpec extends PolicySpec {
  /** Index in RIGHTS. */
  readonly rights: number;
  readonly policy: PolicyChoice;
  /** Seconds from creation; 0 = never expires. */
  readonly expiresIn: number;
}

export type AdminOp =
  | { readonly kind: 'put'; readonly limits?: { readonly quotaMax: number; readonly rate: number } }
  | { readonly kind: 'patch-quota'; readonly quotaMax: number }
  | { readonly kind: 'patch-rate'; readonly rate: number; readonly per: number }
  | { readonly kind: 'patch-policy'; readonly policy: PolicyChoice }
  | { readonly kind: 'patch-inactive'; readonly isInactive: boolean }
  | { readonly kind: 'patch-rights'; readonly rights: number }
  | { readonly kind: 'patch-expires'; readonly expiresIn: number }
  | { readonly kind: 'reset' }
  | { readonly kind: 'policy'; readonly id: PolicyName; readonly quotaMax: number; readonly rate: number };

export interface RequestSpec {
  /** Taken modulo the number of instances. */
  readonly instance: number;
  /** Index in ROUTES. */
  readonly route: number;
}

/**
 * A clock step: by a fixed amount, or aimed at a boundary the model knows — just before a
 * window end (every instance still sees the window open), just after it (every instance
 * sees it over), inside the span where the instances' clocks disagree, or just past the
 * end of a policy cache's bound after the last policy write.
 */
export type ClockStep =
  | { readonly by: number }
  | { readonly toEndOf: 'quota' | 'rate'; readonly side: 'before' | 'inside' | 'after'; readonly margin: number }
  | { readonly pastPolicyCacheOf: number; readonly margin: number };

export type Op =
  | { readonly kind: 'batch'; readonly requests: readonly RequestSpec[]; readonly alongside?: AdminOp; readonly delayMs: number }
  | { readonly kind: 'admin'; readonly op: AdminOp }
  | { readonly kind: 'clock'; readonly step: ClockStep }
  | { readonly kind: 'lose'; readonly count: number };

export interface HistorySpec {
  readonly instances: readonly InstanceSpec[];
  readonly key: KeySpec;
  readonly policies: Readonly<Record<PolicyName, PolicySpec>>;
  readonly ops: readonly Op[];
}

const weighted = <T>(...pairs: [number, fc.Arbitrary<T>][]) => fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** Instances whose clocks run up to `skewMs` ahead of the shared clock. */
const instancesArb = (skewMs: number): fc.Arbitrary<InstanceSpec[]> =>
  fc.array(
    fc.record({
      offsetMs: fc.integer({ min: 0, max: skewMs }),
      cacheSeconds: fc.constantFrom(0, 2, 10),
      renews: weighted([2, fc.constant(false)], [1, fc.constant(true)]),
    }),
    { minLength: 2, maxLength: 3 },
  );

/** Clocks a few ms apart (the bounds leave almost no slack) or up to 1.5 s apart. */
const clustersArb = weighted([1, fc.constant(30)], [2, fc.constant(1499)]).chain(instancesArb);

const quotaArb = weighted([1, fc.integer({ min: 0, max: 2 })], [4, fc.integer({ min: 3, max: 12 })]);
const rateArb = weighted([2, fc.constant(0)], [3, fc.integer({ min: 2, max: 6 })]);
const perArb = fc.constantFrom(2, 5);
const policyChoiceArb = weighted<PolicyChoice>([3, fc.constant('none')], [2, fc.constantFrom('gold', 'free')], [1, fc.constant('missing')]);
const rightsArb = fc.integer({ min: 0, max: RIGHTS.length - 1 });

const keyArb: fc.Arbitrary<KeySpec> = fc.record({
  quotaMax: quotaArb,
  quotaRenewalRate: fc.constantFrom(20, 60),
  rate: rateArb,
  per: perArb,
  rights: rightsArb,
  policy: weighted<PolicyChoice>([4, fc.constant('none')], [2, fc.constantFrom('gold', 'free')]),
  expiresIn: weighted([3, fc.constant(0)], [1, fc.integer({ min: 5, max: 120 })]),
});

const policiesArb = fc.record({
  gold: fc.record({
    quotaMax: fc.integer({ min: 15, max: 40 }),
    quotaRenewalRate: fc.constant(60),
    rate: weighted([1, fc.constant(0)], [2, fc.integer({ min: 5, max: 10 })]),
    per: perArb,
  }),
  free: fc.record({
    quotaMax: fc.integer({ min: 1, max: 5 }),
    quotaRenewalRate: fc.constantFrom(20, 60),
    rate: weighted([1, fc.constant(0)], [2, fc.integer({ min: 1, max: 3 })]),
    per: perArb,
  }),
});

const policyWriteArb: fc.Arbitrary<AdminOp> = fc
  .record({
    id: fc.constantFrom<PolicyName>('gold', 'free'),
    quotaMax: fc.integer({ min: 1, max: 40 }),
    rate: weighted([1, fc.constant(0)], [2, fc.integer({ min: 1, max: 10 })]),
  })
  .map((p) => ({ kind: 'policy', ...p }));

const adminOpArb: fc.Arbitrary<AdminOp> = weighted<AdminOp>(
  [
    3,
    fc
      .option(fc.record({ quotaMax: quotaArb, rate: rateArb }), { nil: undefined })
      .map((limits) => (limits ? { kind: 'put', limits } : { kind: 'put' })),
  ],
  [3, quotaArb.map((quotaMax) => ({ kind: 'patch-quota', quotaMax }))],
  [2, fc.record({ rate: rateArb, per: perArb }).map((r) => ({ kind: 'patch-rate', ...r }))],
  [3, policyChoiceArb.map((policy) => ({ kind: 'patch-policy', policy }))],
  [1, fc.boolean().map((isInactive) => ({ kind: 'patch-inactive', isInactive }))],
  [2, rightsArb.map((rights) => ({ kind: 'patch-rights', rights }))],
  [2, fc.constantFrom(-30, 2, 20, 300, 0).map((expiresIn) => ({ kind: 'patch-expires', expiresIn }))],
  [3, fc.constant({ kind: 'reset' })],
  [3, policyWriteArb],
);

const requestArb: fc.Arbitrary<RequestSpec> = fc.record({
  instance: fc.integer({ min: 0, max: 2 }),
  route: weighted([4, fc.constant(0)], [3, fc.integer({ min: 1, max: ROUTES.length - 1 })]),
});

const clockArb: fc.Arbitrary<ClockStep> = weighted<ClockStep>(
  [3, fc.integer({ min: 50, max: 1500 }).map((by) => ({ by }))],
  [2, fc.integer({ min: 1500, max: 7000 }).map((by) => ({ by }))],
  [2, fc.integer({ min: 20_000, max: 70_000 }).map((by) => ({ by }))],
  [
    4,
    fc.record({
      toEndOf: fc.constantFrom<'quota' | 'rate'>('quota', 'rate'),
      side: fc.constantFrom<'before' | 'inside' | 'after'>('before', 'inside', 'after'),
      margin: fc.integer({ min: 1, max: 600 }),
    }),
  ],
  [1, fc.record({ pastPolicyCacheOf: fc.integer({ min: 0, max: 2 }), margin: fc.integer({ min: 1, max: 600 }) })],
);

const opArb: fc.Arbitrary<Op> = weighted<Op>(
  [
    9,
    fc.record({
      kind: fc.constant('batch' as const),
      requests: fc.array(requestArb, { minLength: 1, maxLength: 8 }),
      delayMs: fc.integer({ min: 0, max: 15 }),
    }),
  ],
  [
    3,
    fc.record({
      kind: fc.constant('batch' as const),
      requests: fc.array(requestArb, { minLength: 1, maxLength: 8 }),
      alongside: adminOpArb,
      delayMs: fc.integer({ min: 0, max: 15 }),
    }),
  ],
  [3, adminOpArb.map((op) => ({ kind: 'admin' as const, op }))],
  [4, clockArb.map((step) => ({ kind: 'clock' as const, step }))],
  [1, fc.integer({ min: 1, max: 3 }).map((count) => ({ kind: 'lose' as const, count }))],
);

const batchOn = (instance: number, minLength: number): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constant('batch' as const),
    requests: fc.array(
      requestArb.map((r) => ({ ...r, instance })),
      { minLength, maxLength: 8 },
    ),
    delayMs: fc.constant(0),
  });

/**
 * Sequences that random operations rarely line up, where a bound is tight: fill a window,
 * move the clock to just before or after its end, and ask again; or let an instance cache
 * a policy, change the policy, move the clock just past that instance's cache bound, and
 * ask that instance again.
 */
const probeArb: fc.Arbitrary<Op[]> = fc.oneof(
  fc
    .tuple(
      batchOn(0, 3),
      clockArb.filter((step) => 'toEndOf' in step),
      fc.integer({ min: 0, max: 2 }).chain((i) => batchOn(i, 2)),
    )
    .map(([fill, step, ask]): Op[] => [fill, { kind: 'clock', step }, ask]),
  fc.integer({ min: 0, max: 2 }).chain((instance) =>
    fc
      .tuple(
        batchOn(instance, 1),
        adminOpArb.filter((op) => op.kind === 'policy'),
        fc.integer({ min: 1, max: 600 }),
        batchOn(instance, 2),
      )
      .map(([fetch, policy, margin, ask]): Op[] => [
        fetch,
        { kind: 'admin', op: policy },
        { kind: 'clock', step: { pastPolicyCacheOf: instance, margin } },
        ask,
      ]),
  ),
);

/** Histories of about `minOps`..`maxOps` operations, printed readably when fast-check reports one. */
export function historyArb(minOps: number, maxOps: number): fc.Arbitrary<HistorySpec> {
  // Every group is generated (a "nothing" comes once in 10⁶), but shrinks to nothing first:
  // fast-check can then drop the operations a failure does not need, below `minOps` too.
  const group = fc.option(weighted([6, opArb.map((op) => [op])], [1, probeArb]), { nil: undefined, freq: 1_000_000 });
  const ops = fc.array(group, { minLength: Math.ceil(minOps * 0.8), maxLength: Math.ceil(maxOps * 0.8) });
  return fc
    .record({ instances: clustersArb, key: keyArb, policies: policiesArb, ops: ops.map((groups) => groups.flatMap((g) => g ?? [])) })
    .map((h) => Object.assign(h, { [fc.toStringMethod]: () => describeHistory(h) }));
}
