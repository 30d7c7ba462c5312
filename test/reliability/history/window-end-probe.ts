/**
 * A hot key's rate window ended with leases unspent (generator.ts, hot histories): the one
 * sequence in which a spend accepted past its window's end shows in the Allows.
 *
 * A key of its own limits only (every API, no per-API limit, no policy, no quota, never
 * expires; a rate of 3–6 per 5 s, longer than the clock spread plus a second, so that
 * every instance sees a window it opened open until its end) is made again; a burst
 * spreads it (a small one: a key grown to dozens of counter items hides the few that
 * hold leases) and uses up a first window; the clock goes past that window's end for
 * every instance (beyond any clock skew) and one or two requests open a second window —
 * the fill that opens it leases the rate to the counter items, and they spend only some
 * of it; the clock goes past the second window's end for every instance too, and small
 * batches, one after another, ask for more than the rate in the third (small, so that
 * few fail closed on throttled items, and many counter items are tried). Each step past
 * an end also waits 0.7 s of real time, so that the counter items' write units come
 * back. A lease of the second window spent in the third takes the third past its limit:
 * no instance's clock can still be inside the second (the overlap allowed by
 * docs/ARCHITECTURE.md, "Bounds, stated"), so the model's cap there is the rate itself.
 */
import fc from 'fast-check';
import type { KeySpec, Op, RequestSpec } from './spec.ts';

/** Real time waited at each step past a window's end: the items' throughput ceiling refills. */
const REFILL_MS = 700;

/** Requests of the key to routes every key's rights permit (GET api1/pets, and the others under "every API"). */
const keyRequestsArb = (minLength: number, maxLength: number): fc.Arbitrary<RequestSpec[]> =>
  fc.array(
    fc.record({ instance: fc.integer({ min: 0, max: 2 }), route: fc.integer({ min: 0, max: 3 }), who: fc.constant('key' as const) }),
    { minLength, maxLength },
  );

const pastEnd = (margin: number): Op => ({
  kind: 'clock',
  step: { toEndOf: 'rate', side: 'after', margin },
  waitMs: REFILL_MS,
});

const batch = (requests: RequestSpec[]): Op => ({ kind: 'batch', requests, delayMs: 0 });

export const windowEndProbeArb: fc.Arbitrary<Op[]> = fc
  .record({
    rate: fc.integer({ min: 3, max: 6 }),
    spread: keyRequestsArb(6, 10),
    margins: fc.tuple(fc.integer({ min: 1, max: 1500 }), fc.integer({ min: 1, max: 1500 })),
    used: fc.integer({ min: 1, max: 2 }),
    open: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 2 }),
    asks: fc.array(keyRequestsArb(2, 5), { minLength: 3, maxLength: 4 }),
  })
  .map(({ rate, spread, margins, used, open, asks }): Op[] => {
    const key: KeySpec = { quotaMax: -1, quotaRenewalRate: 0, rate, per: 5, rights: 0, policies: [], expiresIn: 0 };
    const opening = open.slice(0, used).map((instance): RequestSpec => ({ instance, route: 0, who: 'key' }));
    return [
      { kind: 'recreate', key, resetInFlight: false, between: [], after: [] },
      batch(spread),
      pastEnd(margins[0]),
      batch(opening),
      pastEnd(margins[1]),
      ...asks.map(batch),
    ];
  });
