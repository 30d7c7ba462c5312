/**
 * The hot keys' sequences of random histories (generator.ts), for histories under a
 * throughput ceiling: bursts that spread a key over counter items and grow it, a change
 * that revokes its leases while some are unspent, and cooling steps that shrink it.
 */
import fc from 'fast-check';
import type { AdminOp, Op, RequestSpec } from './spec.ts';

/** What the hot sequences are made of (generator.ts): a request, a quota, a batch on one instance. */
export interface HotParts {
  readonly request: fc.Arbitrary<RequestSpec>;
  readonly quota: fc.Arbitrary<number>;
  /** A batch of at least `minLength` requests, all on `instance`. */
  readonly batchOn: (instance: number, minLength: number) => fc.Arbitrary<Op>;
}

/** W (write units per item per second) of a hot history's ceiling: low enough that a batch is throttled. */
export const ceilingArb = fc.integer({ min: 3, max: 5 });

/** One of the arbitraries, each as often as its weight says (as in generator.ts). */
const weighted = <T>(...pairs: [number, fc.Arbitrary<T>][]) => fc.oneof(...pairs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** Past the cooling time (COOL_MS, 60 s) of a spread key's leases. */
const coolArb: fc.Arbitrary<Op> = fc.integer({ min: 61_000, max: 75_000 }).map((by) => ({ kind: 'clock', step: { by } }));

/** A burst: enough concurrent requests from every instance to take a throttled key's counter items past their units. */
const burstArb = (request: fc.Arbitrary<RequestSpec>): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constant('batch' as const),
    requests: fc.array(request, { minLength: 10, maxLength: 16 }),
    delayMs: fc.constant(0),
  });

/**
 * A spread key's leases kept, then revoked, while some are unspent: a reset (room again), a
 * few requests (a fill leases up to three counter items and spends one), a change that names
 * no limit or count (it moves the leases to its version) before or during a few more, then a
 * change of a count or a limit (it revokes every lease), then a burst that asks for more than
 * the room left.
 */
const hotChangeArb = ({ request, quota }: HotParts, burst: fc.Arbitrary<Op>): fc.Arbitrary<Op[]> =>
  fc
    .tuple(
      fc.array(request, { minLength: 2, maxLength: 4 }),
      weighted<AdminOp>(
        [3, fc.nat(1000).map((n) => ({ kind: 'patch-meta', n }))],
        [1, fc.constant({ kind: 'rotate' })],
        [1, fc.constant({ kind: 'put' })],
        [1, fc.boolean().map((isInactive) => ({ kind: 'patch-inactive', isInactive }))],
      ),
      fc.array(request, { minLength: 2, maxLength: 4 }),
      fc.boolean(),
      weighted<AdminOp>([2, fc.constant({ kind: 'reset' })], [1, quota.map((quotaMax) => ({ kind: 'patch-quota', quotaMax }))]),
      burst,
    )
    .map(([few, keeping, more, during, revoking, ask]): Op[] => [
      { kind: 'admin', op: { kind: 'reset' } },
      { kind: 'batch', requests: few, delayMs: 0 },
      ...(during
        ? [{ kind: 'batch' as const, requests: more, delayMs: 0, alongside: keeping }]
        : [
            { kind: 'admin' as const, op: keeping },
            { kind: 'batch' as const, requests: more, delayMs: 0 },
          ]),
      { kind: 'admin', op: revoking },
      ask,
    ]);

/**
 * Hot keys (histories under a throughput ceiling): a burst or two spread the key and grow
 * it; maybe a change revokes its leases; then cooling steps, each followed by a few
 * requests, shrink it.
 */
export function hotProbeArb(parts: HotParts): fc.Arbitrary<Op[]> {
  const burst = burstArb(parts.request);
  return fc
    .tuple(
      fc.array(burst, { minLength: 1, maxLength: 2 }),
      fc.option(hotChangeArb(parts, burst), { nil: undefined }),
      fc.array(fc.tuple(coolArb, parts.batchOn(0, 1)), { maxLength: 3 }),
    )
    .map(([bursts, change, cooling]) => [...bursts, ...(change ?? []), ...cooling.flat()]);
}
