/**
 * Held requests: one instance's authorization whose counting write — a spend, a count on
 * the session item, a fill, a cooling — is parked (hold.ts) while other steps run (other
 * instances' requests, admin and policy writes, clock steps past a window end or the
 * cooling time), then let go. It is one request, decided when its write lands: the write
 * was planned on what the request read before the hold, and its condition is checked
 * against what the other steps left. A hot key's fill held across a reset or a cooling
 * that lands once its counter item is filled again and spent as far is the ABA the
 * `fill-count` bug (bugs.ts) brings back.
 */
import fc from 'fast-check';
import type { AdminOp, ClockStep, Op, RequestSpec } from './spec.ts';
import type { WriteCommand } from './hold.ts';

/**
 * Which write of the request is held: its first counting write (`any`: a spend on a counter
 * item, a count on the session item, a fill, a cooling or a revocation, whichever comes
 * first), or its first fill, or its first cooling (none: the request is decided at once).
 */
export type HeldWrite = 'any' | 'fill' | 'cooling';

export const HELD_WRITES: readonly HeldWrite[] = ['any', 'fill', 'cooling'];

/** A counting write as the hold sees it, or `undefined` for any other write (a spreading write, a hook's). */
export function countingWrite(write: WriteCommand): 'spend' | 'count' | 'fill' | 'cooling' | 'revoke' | undefined {
  const { command, input } = write;
  if (command === 'UpdateItemCommand') {
    if (isCounterItem(pkOf(input.Key))) return 'spend';
    const names = Object.values((input.ExpressionAttributeNames ?? {}) as Record<string, string>);
    return names.some((n) => /^(quota|rate)Used(@.*)?$/.test(n)) ? 'count' : undefined;
  }
  if (command !== 'TransactWriteItemsCommand') return undefined;
  const items = (input.TransactItems ?? []) as Record<string, Record<string, unknown>>[];
  if (items.some((i) => i.Put !== undefined && isCounterItem(pkOf(i.Put.Item)))) return 'fill';
  const deletes = items.flatMap((i) => (i.Delete !== undefined && isCounterItem(pkOf(i.Delete.Key)) ? [i.Delete] : []));
  if (deletes.length === 0) return undefined;
  return deletes.some((d) => d.ConditionExpression !== undefined) ? 'cooling' : 'revoke';
}

/** The matcher of `held` for HoldNextWrite. */
export function heldWriteMatcher(held: HeldWrite): (write: WriteCommand) => boolean {
  return (write) => {
    const kind = countingWrite(write);
    return kind !== undefined && (held === 'any' || kind === held);
  };
}

function isCounterItem(pk: string): boolean {
  return /#c\d+$/.test(pk);
}

/** The partition key of a Key or an Item, document-client or marshalled. */
export function pkOf(key: unknown): string {
  const pk = (key as { pk?: unknown } | undefined)?.pk;
  return typeof pk === 'string' ? pk : String((pk as { S?: string } | undefined)?.S ?? '');
}

/** What the steps held across are made of (generator.ts's arbitraries). */
export interface HeldParts {
  readonly request: fc.Arbitrary<RequestSpec>;
  readonly requests: fc.Arbitrary<RequestSpec[]>;
  readonly admin: fc.Arbitrary<AdminOp>;
  readonly clock: fc.Arbitrary<ClockStep>;
}

/**
 * A held request among random steps: one to three batches (some with an admin write
 * alongside), admin and policy writes, and clock steps. The steps' requests on the held
 * instance go to another one (its requests would wait for the held fill).
 */
export function heldArb(parts: HeldParts): fc.Arbitrary<Op> {
  const step = fc.oneof(
    { weight: 3, arbitrary: parts.requests.map((requests): Op => ({ kind: 'batch', requests, delayMs: 0 })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(parts.requests, parts.admin, fc.integer({ min: 0, max: 15 }))
        .map(([requests, alongside, delayMs]): Op => ({ kind: 'batch', requests, alongside, delayMs })),
    },
    { weight: 3, arbitrary: parts.admin.map((op): Op => ({ kind: 'admin', op })) },
    { weight: 2, arbitrary: parts.clock.map((step): Op => ({ kind: 'clock', step })) },
  );
  return fc
    .record({
      request: parts.request,
      write: fc.constantFrom<HeldWrite>('any', 'any', 'any', 'fill'),
      during: fc.array(step, { minLength: 1, maxLength: 3 }),
    })
    .map(({ request, write, during }): Op => ({ kind: 'held', request: withoutHook(request), write, during }));
}

/**
 * Hot keys: a fill held across a cooling, let go once its counter item is filled again —
 * the attack's shape, without rigging the dice. A fresh key (re-created: no counter items
 * yet) is made hot, then cooled down to one counter item, whose lease is then the whole
 * room left. The held request goes to api2 (a rate limit of its own, which nothing else
 * touches meanwhile): its fill of that item copies the key's lease as it saw it. Then a
 * cooling (one request 61 s later: no counter items, the lease's unspent part given back),
 * the key made hot again (a lease of an eighth of the room on each of eight counter
 * items), the fill let go, and two bursts ask for more than the quota. A fill that passes
 * for the new item writes back the old lease, bigger than the new one: an over-grant of
 * the difference. (A fill held across a reset or a settings write: `heldArb`.)
 */
export function heldFillArb(parts: HeldParts): fc.Arbitrary<Op[]> {
  // The key's requests only, none asking a hook to write limits (a settings write revokes every lease).
  const onApi1 = parts.request.map((r): RequestSpec => ({ ...withoutHook(r), route: r.route % 3, who: 'key' }));
  const batchOf = (min: number, max: number) =>
    fc.array(onApi1, { minLength: min, maxLength: max }).map((requests): Op => ({ kind: 'batch', requests, delayMs: 0 }));
  // A second of real time: instances deny for that long on a session item they saw without room, and throttled items recover.
  const pause: Op = { kind: 'clock', step: { by: 1 }, waitMs: 1100 };
  // A cooling: one request 61 s on (the key's last counter item goes, its unspent lease given back to the session item).
  const cooling = fc
    .tuple(fc.integer({ min: 61_000, max: 75_000 }), onApi1)
    .map(([by, r]): Op[] => [{ kind: 'clock', step: { by }, waitMs: pause.waitMs }, { kind: 'batch', requests: [r], delayMs: 0 }, pause]);
  return fc
    .record({
      quotaMax: fc.integer({ min: 24, max: 40 }),
      apiRate: fc.integer({ min: 10, max: 40 }),
      instance: fc.integer({ min: 0, max: 2 }),
      coolOn: fc.integer({ min: 0, max: 2 }),
      write: fc.constantFrom<HeldWrite>('fill', 'fill', 'fill', 'any'),
      heat: batchOf(6, 10),
      cooling,
      reheat: batchOf(6, 10),
      after: fc.array(batchOf(10, 16), { minLength: 2, maxLength: 2 }),
    })
    .map(({ quotaMax, apiRate, instance, coolOn, write, heat, cooling, reheat, after }): Op[] => [
      {
        kind: 'recreate',
        key: {
          quotaMax,
          quotaRenewalRate: 0,
          rate: 0,
          per: 2,
          rights: 0,
          apiLimit: { quotaMax: -1, quotaRenewalRate: 0, rate: apiRate, per: 5 },
          policies: [],
          expiresIn: 0,
        },
        resetInFlight: false,
        between: [],
        after: (heat as Extract<Op, { kind: 'batch' }>).requests,
      },
      { kind: 'cool', instance: coolOn, to: 1 },
      // One request fills that counter item: its lease is the room left.
      { kind: 'batch', requests: [{ instance: coolOn, route: 0, who: 'key' }], delayMs: 0 },
      {
        kind: 'held',
        request: { instance, route: 3, who: 'key' },
        write,
        // The pause last: the session item's write units come back, so that the fill is not merely throttled when let go.
        during: [...cooling, reheat, pause],
      },
      ...after,
    ]);
}

function withoutHook(r: RequestSpec): RequestSpec {
  const { hook: _hook, ...rest } = r;
  return rest;
}
