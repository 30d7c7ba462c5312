/**
 * Measurement 1: DynamoDB requests per authorization, on DynamoDB Local, counted
 * with an SDK middleware on the authorizer's document client. Steady state: each case is
 * warmed up once (a JWT identity's session is created on first sight, the policy cache is
 * filled), then `ROUNDS` allowed authorizations are counted and averaged.
 */
import { SignJWT } from 'jose';
import { KeyService } from '../lambdas/admin/key-service.ts';
import { PolicyStore } from '../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../lambdas/core/store/store.ts';
import {
  BENCH_ISSUER,
  BENCH_JWT_SECRET,
  benchAuthorizer,
  benchConfig,
  LIMITED_KEY,
  POLICIES,
  renewOnExpiry,
  type BenchAuthorizer,
} from './lib/authorizer.ts';
import { countCommands, createBenchTable, type CommandCounter } from './lib/dynamo.ts';
import type { Figure } from './lib/figures.ts';

const ROUNDS = 50;
const GROUP = 'DynamoDB requests per authorization';

export interface RequestCount {
  readonly perRequest: number;
  /** Commands per request, by name. */
  readonly breakdown: Record<string, number>;
  /** Capacity units per request. */
  readonly readUnits: number;
  readonly writeUnits: number;
}

export async function measureRequestsPerAuthorization(endpoint: string): Promise<Figure[]> {
  const table = await createBenchTable(endpoint, 'requests');
  try {
    const counter = countCommands(table.doc);
    const config = benchConfig(table.tableName, {
      jwt: { secret: BENCH_JWT_SECRET, algorithms: ['HS256'], issuer: BENCH_ISSUER },
    });
    const store = new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: config.sessionRetentionSeconds });
    const keys = new KeyService(store);
    const policies = new PolicyStore({ client: table.doc, tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('bench-unlimited', POLICIES.unlimited);
    await policies.put('bench-limited', POLICIES.limited);

    // Each handler has its own clock, moved on by each case: 1 ms per request by default,
    // so that no rate window (1 s) or policy cache entry (policyCacheSeconds) runs out inside a
    // measurement and the figure is the steady state; the window cases move it on more.
    let plainMs = Date.now();
    const plain = benchAuthorizer({ config, client: table.doc, clock: () => plainMs });
    const step = () => {
      plainMs += 1;
    };
    let rolloverMs = Date.now();
    const rollover = benchAuthorizer({ config, client: table.doc, clock: () => rolloverMs });
    const nextWindow = () => {
      rolloverMs += 1_100;
    };
    const rolloverKey = (await keys.create({ ...LIMITED_KEY })).key;
    const unlimitedKey = (await keys.create({})).key;
    // A session of about 3 KB (metaData passed to the backend): writes are billed per KB.
    const largeKey = (
      await keys.create({ metaData: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`field${i}`, 'v'.repeat(240)])) })
    ).key;
    const limitedKey = (await keys.create({ ...LIMITED_KEY })).key;
    const exhaustedKey = (await keys.create({ quotaMax: 1, quotaRemaining: 0, quotaRenewalRate: 86_400 })).key;
    const forbiddenKey = (await keys.create({ ...LIMITED_KEY, accessRights: { 'other-api': {} } })).key;
    // A new authorizer instance for every request: nothing remembered (a cold start, or the
    // first request of a key on this instance).
    const coldInstance: BenchAuthorizer = {
      handler: plain.handler,
      authorize: (authorization) => benchAuthorizer({ config, client: table.doc, clock: () => plainMs }).authorize(authorization),
    };
    const jwtUnlimited = await token('bench-user-unlimited', 'bench-unlimited');
    const jwtLimited = await token('bench-user-limited', 'bench-limited');

    // The renewing hook: a clock 60 s further on every request, so that every request
    // finds its session about to expire and renews it (the worst case for the hook).
    let nowMs = Date.now();
    const renewing = benchAuthorizer({ config, client: table.doc, plugins: [renewOnExpiry], clock: () => nowMs });
    const nowS = () => Math.floor(nowMs / 1000);
    const renewUnlimitedKey = (await keys.create({ expires: nowS() + 60 })).key;
    const renewLimitedKey = (await keys.create({ ...LIMITED_KEY, expires: nowS() + 60 })).key;
    const idleHookKey = (await keys.create({ ...LIMITED_KEY })).key; // never expires: the hook only looks
    const tick = () => {
      nowMs += 60_000;
    };

    const firstSight = await count(counter, plain, `Bearer ${await token('bench-first-sight', 'bench-limited')}`, 1, step);

    const figure = (
      id: string,
      [label, short]: [string, string],
      result: RequestCount,
      target: number | undefined,
      note: string,
    ): Figure => ({
      id,
      group: GROUP,
      label,
      short: `DynamoDB requests: ${short}`,
      value: result.perRequest,
      unit: '',
      ...(target === undefined ? {} : { target: { kind: 'max' as const, value: target } }),
      note: `Measured: ${describeBreakdown(result.breakdown)}; ${describeUnits(result)}. ${note}`,
    });

    return [
      figure(
        'requests.apiKey.unlimited',
        ['API key, no limits', 'key, no limits'],
        await count(counter, plain, unlimitedKey, ROUNDS, step),
        1,
        'A key without rate limit or quota: nothing to count, so one consistent GetItem and no write.',
      ),
      figure(
        'requests.apiKey.large',
        ['API key, no limits, 3 KB session', 'key, 3 KB session'],
        await count(counter, plain, largeKey, ROUNDS, step),
        1,
        'The same key with 3 KB of metaData: the request count does not change, the capacity units show what a write of a larger item costs.',
      ),
      figure(
        'requests.apiKey.limited',
        ['API key with rate limit + quota', 'key, rate + quota'],
        await count(counter, plain, limitedKey, ROUNDS, step),
        1,
        'A key with a rate limit and a quota, both counted by every request.',
      ),
      figure(
        'requests.apiKey.coldInstance',
        ['API key with rate limit + quota, first request on an authorizer instance', 'key, instance has not seen it'],
        await count(counter, coldInstance, limitedKey, ROUNDS, step),
        2,
        'An instance that has not seen the key reads it (consistent GetItem), then counts with one conditional UpdateItem; later requests on that instance skip the read.',
      ),
      figure(
        'requests.denied.quota',
        ['API key, quota used up (denied)', 'key, quota used up'],
        await count(counter, plain, exhaustedKey, ROUNDS, step, 'Deny'),
        1,
        'A denial by the counters: the take fails and its ALL_OLD item is the proof; no read, no second write.',
      ),
      figure(
        'requests.denied.rights',
        ['API key, route not in its access rights (denied)', 'key, route forbidden'],
        await count(counter, plain, forbiddenKey, ROUNDS, step, 'Deny'),
        1,
        'A denial by the settings is never made on remembered settings: one consistent GetItem, nothing written.',
      ),
      figure(
        'requests.apiKey.rollover',
        ['API key with rate limit + quota, every request in a new 1 s rate window', 'key, new rate window each time'],
        await count(counter, rollover, rolloverKey, ROUNDS, nextWindow),
        undefined,
        'With remembered settings the counting write guesses "take from the open window": a request that finds the window over costs that failed conditional write (which DynamoDB bills as a write, though DynamoDB Local reports no units for it) and a second write that opens the next window. So a key pays one extra write per rate window it uses (every `per` s) and per quota window.',
      ),
      figure(
        'requests.jwt.unlimited',
        ['JWT (HS256), policy without limits', 'JWT, no limits'],
        await count(counter, plain, `Bearer ${jwtUnlimited}`, ROUNDS, step),
        1,
        "Steady state: the identity's session exists; its policy comes from the authorizer's bounded cache.",
      ),
      figure(
        'requests.jwt.limited',
        ['JWT (HS256), policy with rate limit + quota', 'JWT, rate + quota'],
        await count(counter, plain, `Bearer ${jwtLimited}`, ROUNDS, step),
        1,
        'Steady state, a policy with a rate limit and a quota (cached by the authorizer).',
      ),
      figure(
        'requests.renew.unlimited',
        ['API key, renewing postAuth hook, no limits', 'renewing hook, no limits'],
        await count(counter, renewing, renewUnlimitedKey, ROUNDS, tick),
        2,
        'Every request finds its session within 5 s of expiry and the hook renews it (updateSession; ALL_NEW, no re-read: I4).',
      ),
      figure(
        'requests.hook.idle',
        ['API key with rate limit + quota, renewing hook loaded but nothing to renew', 'hook loaded, no renewal'],
        await count(counter, renewing, idleHookKey, ROUNDS, () => {
          nowMs += 1;
        }),
        undefined,
        'With a postAuth hook configured, every request reads the session first (the hook must see it), then counts.',
      ),
      figure(
        'requests.renew.limited',
        ['API key, renewing postAuth hook, rate limit + quota', 'renewing hook, rate + quota'],
        await count(counter, renewing, renewLimitedKey, ROUNDS, tick),
        2,
        'As above, on a key with a rate limit and a quota.',
      ),
      {
        id: 'requests.jwt.firstSight',
        group: GROUP,
        label: 'JWT, first request of a new identity',
        value: firstSight.perRequest,
        unit: '',
        note: `${describeBreakdown(firstSight.breakdown)}; ${describeUnits(firstSight)}. Once per identity: finding no session, reading the policy, creating the session (conditional PutItem), counting.`,
      },
    ];
  } finally {
    table.close();
  }
}

/** Warms up once, then counts the commands of `rounds` authorizations answered `effect` (Allow by default). */
async function count(
  counter: CommandCounter,
  authorizer: BenchAuthorizer,
  authorization: string,
  rounds = ROUNDS,
  beforeEach: () => void = () => undefined,
  effect: 'Allow' | 'Deny' = 'Allow',
): Promise<RequestCount> {
  const warm = rounds > 1;
  if (warm) {
    beforeEach();
    await expectEffect(authorizer, authorization, effect);
  }
  counter.reset();
  for (let i = 0; i < rounds; i++) {
    beforeEach();
    await expectEffect(authorizer, authorization, effect);
  }
  const breakdown: Record<string, number> = {};
  for (const [name, n] of counter.counts) breakdown[name] = n / rounds;
  return {
    perRequest: counter.total() / rounds,
    breakdown,
    readUnits: counter.units.read / rounds,
    writeUnits: counter.units.write / rounds,
  };
}

async function expectEffect(authorizer: BenchAuthorizer, authorization: string, expected: 'Allow' | 'Deny'): Promise<void> {
  const effect = await authorizer.authorize(authorization);
  if (effect !== expected) throw new Error(`benchmark request answered ${effect}, expected ${expected}; the setup is wrong`);
}

function token(sub: string, policy: string): Promise<string> {
  return new SignJWT({ pol: [policy] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(BENCH_ISSUER)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(BENCH_JWT_SECRET));
}

/** `GetItem 1 + UpdateItem 1`. */
export function describeBreakdown(breakdown: Record<string, number>): string {
  return Object.entries(breakdown)
    .map(([name, n]) => `${name.replace(/Command$/, '')} ${Number(n.toFixed(2))}`)
    .join(' + ');
}

/** `1 read unit + 0 write units` per request. */
function describeUnits(result: RequestCount): string {
  const n = (x: number) => Number(x.toFixed(2));
  return `${n(result.readUnits)} read + ${n(result.writeUnits)} write capacity units`;
}
