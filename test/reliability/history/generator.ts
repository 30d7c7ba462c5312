/**
 * Random histories (fast-check): two or three instances, an API key, a JWT identity, four
 * policies, and 14–28 operations — batches of concurrent authorizations (some asking a
 * hook to write limits, some with an admin write alongside), admin writes, policy writes,
 * clock steps, lost answers, and a key deleted and re-created under a reset in flight.
 * Every history prints as a numbered list of operations, so a shrunk counterexample reads
 * as a script.
 */
import fc from 'fast-check';
import { describeHistory } from './describe.ts';
import { heldArb, heldFillArb } from './held-requests.ts';
import { ceilingArb, hotProbeArb } from './hot-probes.ts';
import type { HookPatch, Who } from './observation.ts';
import { type ApiLimitSpec, RIGHTS, ROUTES } from './routes.ts';
import type { InstanceSpec } from './settings.ts';
import type { AdminOp, ClockStep, HistorySpec, KeySpec, Op, PolicyChoice, PolicyName, PolicySpec, RequestSpec } from './spec.ts';
import { windowEndProbeArb } from './window-end-probe.ts';

const weighted = <T>(...pairs: [number, fc.Arbitrary<T>][]) => fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** Instances whose clocks run up to `skewMs` ahead of the shared clock. */
const instancesArb = (skewMs: number): fc.Arbitrary<InstanceSpec[]> =>
  fc.array(
    fc.record({
      offsetMs: fc.integer({ min: 0, max: skewMs }),
      cacheSeconds: fc.constantFrom(0, 2, 10),
      renews: weighted([2, fc.constant(false)], [1, fc.constant(true)]),
      hooks: fc.boolean(),
    }),
    { minLength: 2, maxLength: 3 },
  );

/** Clocks a few ms apart (the bounds leave almost no slack) or up to 1.5 s apart. */
const clustersArb = weighted([1, fc.constant(30)], [2, fc.constant(1499)]).chain(instancesArb);

const quotaArb = weighted([1, fc.integer({ min: 0, max: 2 })], [4, fc.integer({ min: 3, max: 12 })]);
/** Window lengths: never renews, short, long, and longer than any history. */
const renewalArb = weighted([3, fc.constant(0)], [2, fc.constantFrom(20, 60)], [1, fc.constant(3600)]);
const rateArb = weighted([2, fc.constant(0)], [3, fc.integer({ min: 2, max: 6 })]);
const perArb = fc.constantFrom(2, 5);
const rightsArb = fc.integer({ min: 0, max: RIGHTS.length - 1 });
const apiLimitArb: fc.Arbitrary<ApiLimitSpec> = fc.record({ quotaMax: quotaArb, quotaRenewalRate: renewalArb, rate: rateArb, per: perArb });
const policyChoicesArb = weighted<PolicyChoice[]>(
  [4, fc.constant([])],
  [3, fc.constantFrom<PolicyChoice>('gold', 'free', 'perapi').map((p) => [p])],
  [2, fc.subarray<PolicyChoice>(['gold', 'free', 'perapi'], { minLength: 2, maxLength: 2 })],
  [1, fc.constant<PolicyChoice[]>(['missing'])],
);

const keyArb: fc.Arbitrary<KeySpec> = fc.record(
  {
    quotaMax: quotaArb,
    quotaRenewalRate: renewalArb,
    rate: rateArb,
    per: perArb,
    rights: rightsArb,
    apiLimit: apiLimitArb,
    policies: weighted<PolicyChoice[]>([4, fc.constant([])], [2, policyChoicesArb]),
    expiresIn: weighted([3, fc.constant(0)], [1, fc.integer({ min: 5, max: 120 })]),
  },
  { requiredKeys: ['quotaMax', 'quotaRenewalRate', 'rate', 'per', 'rights', 'policies', 'expiresIn'] },
);

const policyArb = (quotaMax: fc.Arbitrary<number>, rate: fc.Arbitrary<number>): fc.Arbitrary<PolicySpec> =>
  fc.record({ quotaMax, quotaRenewalRate: renewalArb, rate: weighted([1, fc.constant(0)], [2, rate]), per: perArb });

const policiesArb = fc.record({
  gold: policyArb(fc.integer({ min: 15, max: 40 }), fc.integer({ min: 5, max: 10 })),
  free: policyArb(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 })),
  perapi: policyArb(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 4 })),
  plan: policyArb(fc.integer({ min: 2, max: 10 }), fc.integer({ min: 2, max: 5 })),
});

const policyWriteArb: fc.Arbitrary<AdminOp> = fc
  .record({
    id: fc.constantFrom<PolicyName>('gold', 'free', 'perapi', 'plan'),
    limits: fc.record({ quotaMax: fc.integer({ min: 1, max: 40 }), quotaRenewalRate: renewalArb, rate: rateArb, per: perArb }),
  })
  .map((p) => ({ kind: 'policy', ...p }));

/** Writes that change a window's length: the ways of giving a never-renewing quota a renewal rate. */
const renewalChangeArb: fc.Arbitrary<AdminOp> = fc.oneof(
  renewalArb.map((quotaRenewalRate) => ({ kind: 'patch-renewal' as const, quotaRenewalRate })),
  policyWriteArb,
  apiLimitArb.map((limit) => ({ kind: 'patch-api-limit' as const, limit })),
);

const adminOpArb: fc.Arbitrary<AdminOp> = weighted<AdminOp>(
  [
    2,
    fc
      .option(fc.record({ quotaMax: quotaArb, rate: rateArb, quotaRenewalRate: renewalArb }), { nil: undefined })
      .map((limits) => (limits ? { kind: 'put', limits } : { kind: 'put' })),
  ],
  [2, quotaArb.map((quotaMax) => ({ kind: 'patch-quota', quotaMax }))],
  [3, renewalArb.map((quotaRenewalRate) => ({ kind: 'patch-renewal', quotaRenewalRate }))],
  [1, fc.record({ rate: rateArb, per: perArb }).map((r) => ({ kind: 'patch-rate', ...r }))],
  [3, policyChoicesArb.map((policies) => ({ kind: 'patch-policy', policies }))],
  [1, fc.boolean().map((isInactive) => ({ kind: 'patch-inactive', isInactive }))],
  [1, rightsArb.map((rights) => ({ kind: 'patch-rights', rights }))],
  [
    2,
    fc.option(apiLimitArb, { nil: undefined }).map((limit) => (limit ? { kind: 'patch-api-limit', limit } : { kind: 'patch-api-limit' })),
  ],
  [1, fc.constantFrom(-30, 2, 20, 300, 0).map((expiresIn) => ({ kind: 'patch-expires', expiresIn }))],
  [2, fc.nat(1000).map((n) => ({ kind: 'patch-meta', n }))],
  [1, fc.constant({ kind: 'rotate' })],
  [3, fc.constant({ kind: 'reset' })],
  [4, policyWriteArb],
);

const hookArb: fc.Arbitrary<HookPatch> = fc.oneof(
  renewalArb.map((quotaRenewalRate) => ({ quotaRenewalRate })),
  quotaArb.map((quotaMax) => ({ quotaMax })),
);

const requestArb: fc.Arbitrary<RequestSpec> = fc.record(
  {
    instance: fc.integer({ min: 0, max: 2 }),
    route: weighted([4, fc.constant(0)], [3, fc.integer({ min: 1, max: ROUTES.length - 1 })]),
    who: weighted<Who>([3, fc.constant('key')], [1, fc.constant('jwt')]),
    hook: weighted([12, fc.constant(undefined)], [1, hookArb]),
  },
  { requiredKeys: ['instance', 'route', 'who'] },
);
const requestsArb = (minLength: number) => fc.array(requestArb, { minLength, maxLength: 8 });

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

const recreateArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('recreate' as const),
  key: keyArb,
  byTtl: weighted([3, fc.constant(false)], [1, fc.constant(true)]),
  resetInFlight: weighted([3, fc.constant(true)], [1, fc.constant(false)]),
  resendDelete: fc.boolean(),
  between: requestsArb(0),
  after: requestsArb(1),
});

const heldParts = { request: requestArb, requests: requestsArb(1), admin: adminOpArb, clock: clockArb };

const opArb: fc.Arbitrary<Op> = weighted<Op>(
  [9, fc.record({ kind: fc.constant('batch' as const), requests: requestsArb(1), delayMs: fc.integer({ min: 0, max: 15 }) })],
  [
    3,
    fc.record({
      kind: fc.constant('batch' as const),
      requests: requestsArb(1),
      alongside: adminOpArb,
      delayMs: fc.integer({ min: 0, max: 15 }),
    }),
  ],
  [
    4,
    fc.record({
      kind: fc.constant('admin' as const),
      op: adminOpArb,
      loseAnswer: weighted([4, fc.constant(false)], [1, fc.constant(true)]),
    }),
  ],
  [4, clockArb.map((step) => ({ kind: 'clock' as const, step }))],
  [1, fc.integer({ min: 1, max: 3 }).map((count) => ({ kind: 'lose' as const, count }))],
  [1, recreateArb],
  [1, heldArb(heldParts)],
);

const batchOn = (instance: number, minLength: number, who?: Who): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constant('batch' as const),
    requests: fc.array(
      requestArb.map((r) => ({ ...r, instance, ...(who ? { who } : {}) })),
      { minLength, maxLength: 8 },
    ),
    delayMs: fc.constant(0),
  });

/**
 * Sequences that random operations rarely line up, where a bound is tight: fill a window,
 * move the clock to just before or after its end, and ask again; let an instance cache a
 * policy, change the policy, move the clock just past that instance's cache bound, and ask
 * that instance again; use part of a quota, change a window's length (key, policy, per-API
 * limit, or a hook), and ask again.
 */
const probeArb: fc.Arbitrary<Op[]> = fc.oneof(
  fc
    .tuple(
      batchOn(0, 3),
      clockArb.filter((step) => 'toEndOf' in step),
      fc.integer({ min: 0, max: 2 }).chain((i) => batchOn(i, 2)),
    )
    .map(([fill, step, ask]): Op[] => [fill, { kind: 'clock', step }, ask]),
  fc
    .integer({ min: 0, max: 2 })
    .chain((instance) =>
      fc
        .tuple(batchOn(instance, 1), policyWriteArb, fc.integer({ min: 1, max: 600 }), batchOn(instance, 2))
        .map(([fetch, policy, margin, ask]): Op[] => [
          fetch,
          { kind: 'admin', op: policy },
          { kind: 'clock', step: { pastPolicyCacheOf: instance, margin } },
          ask,
        ]),
    ),
  fc
    .tuple(
      fc.constantFrom<Who>('key', 'jwt').chain((who) => fc.tuple(batchOn(0, 3, who), batchOn(1, 4, who))),
      renewalChangeArb,
      fc.integer({ min: 100, max: 5000 }),
    )
    .map(([[use, ask], change, by]): Op[] => [use, { kind: 'admin', op: change }, { kind: 'clock', step: { by } }, ask]),
);

const hotProbes = hotProbeArb({ request: requestArb, quota: quotaArb, batchOn });

/**
 * Histories of about `minOps`..`maxOps` operations, printed readably when fast-check reports one; one in `hotShare` under a
 * throughput ceiling (0: none); `heldFills`: hot histories made (almost) only of held fills across a cooling (held-requests.ts,
 * seconds of real time each: not in the default run), to measure.
 */
export function historyArb(minOps: number, maxOps: number, hotShare = 30, heldFills = false): fc.Arbitrary<HistorySpec> {
  // Every group is generated (a "nothing" comes once in 10⁶), but shrinks to nothing first:
  // fast-check can then drop the operations a failure does not need, below `minOps` too.
  const opsArb = (hot: boolean) => {
    const groups = hot
      ? heldFills
        ? weighted([1, hotProbes], [20, heldFillArb(heldParts)])
        : weighted([6, opArb.map((op) => [op])], [1, probeArb], [2, hotProbes], [2, windowEndProbeArb])
      : weighted([6, opArb.map((op) => [op])], [1, probeArb]);
    const group = fc.option(groups, { nil: undefined, freq: 1_000_000 });
    // A hot history's batches take seconds (a throttled item serves a few writes a second): a third as many groups.
    const scale = hot ? 0.25 : 0.8;
    const ops = fc.array(group, { minLength: Math.ceil(minOps * scale), maxLength: Math.ceil(maxOps * scale) });
    return ops.map((g) => g.flatMap((ops) => ops ?? []));
  };
  const base = { instances: clustersArb, key: keyArb, policies: policiesArb };
  const hot: fc.Arbitrary<HistorySpec> = fc.record({ hot: ceilingArb, ...base, ops: opsArb(true) });
  const cool: fc.Arbitrary<HistorySpec> = fc.record({ ...base, ops: opsArb(false) });
  const histories = hotShare === 0 ? cool : hotShare === 1 ? hot : weighted<HistorySpec>([hotShare - 1, cool], [1, hot]);
  return histories.map((h) => Object.assign(h, { [fc.toStringMethod]: () => describeHistory(h) }));
}
