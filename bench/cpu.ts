/**
 * Measurement 2: the authorizer's in-process CPU time per decision — the whole handler
 * (Powertools logger context, event parsing, pipeline, answer), with DynamoDB answered
 * from memory so that no I/O is timed. tinybench gives per-call latency percentiles; as
 * nothing waits on I/O, latency here is CPU time (plus a few microtask hops). A second,
 * fixed-count loop reads `process.cpuUsage()` as a cross-check of the mean.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { SignJWT } from 'jose';
import { Bench } from 'tinybench';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAuthorizerHandler, type AuthorizerHandler } from '../lambdas/authorizer/handler.ts';
import { jwtSessionPk } from '../lambdas/core/request/identify.ts';
import { generateKey, keyIdOf, keySessionPk } from '../lambdas/core/model/keys.ts';
import { SessionInputSchema } from '../lambdas/core/model/session.ts';
import { newSessionFields } from '../lambdas/core/model/session-rules.ts';
import { storedFields } from '../lambdas/core/store/item.ts';
import { generateTestKey, jwksOf, startJwksServer } from '../test/support/jwks-server.ts';
import {
  BENCH_ISSUER,
  BENCH_JWT_SECRET,
  benchConfig,
  invocationContext,
  LIMITED_KEY,
  requestEvent,
  silentLogger,
} from './lib/authorizer.ts';
import type { Figure } from './lib/figures.ts';
import { memoryDocumentClient, memoryHttpDocumentClient, type ItemMap } from './lib/memory-dynamo.ts';

const GROUP = 'Authorizer CPU time per decision (DynamoDB answered from memory)';
const TIME_PER_TASK_MS = 2_000;
const CPU_USAGE_CALLS = 2_000;
const WARMUP_CALLS = 500;
const TABLE = 'bench-cpu';

interface Case {
  readonly id: string;
  readonly label: string;
  readonly handler: AuthorizerHandler;
  readonly event: APIGatewayRequestAuthorizerEvent;
  /** Target on p50, ms. */
  readonly target?: number;
  readonly note: string;
}

export async function measureCpu(): Promise<Figure[]> {
  const now = Math.floor(Date.now() / 1000);
  const items: ItemMap = new Map();
  const unlimitedKey = seedKey(items, {}, now);
  const limitedKey = seedKey(items, { ...LIMITED_KEY }, now);
  seedJwtSession(items, BENCH_ISSUER, 'bench-rs256', now);
  seedJwtSession(items, BENCH_ISSUER, 'bench-hs256', now);

  const jwks = await startJwksServer();
  try {
    const signing = await generateTestKey('RS256');
    jwks.setKeys(jwksOf(signing));
    const claims = { iss: BENCH_ISSUER, iat: now, exp: now + 7200 };
    const rs256 = await new SignJWT({ ...claims, sub: 'bench-rs256' })
      .setProtectedHeader({ alg: 'RS256', kid: signing.kid })
      .sign(signing.privateKey);
    const hs256 = await new SignJWT({ ...claims, sub: 'bench-hs256' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(BENCH_JWT_SECRET));

    const memory = memoryDocumentClient(items);
    const keyHandler = handlerWith(memory, {});
    const rsHandler = handlerWith(memory, { jwt: { jwksUrl: jwks.url, algorithms: ['RS256'], issuer: BENCH_ISSUER } });
    const hsHandler = handlerWith(memory, { jwt: { secret: BENCH_JWT_SECRET, algorithms: ['HS256'], issuer: BENCH_ISSUER } });
    const sdkHandler = handlerWith(memoryHttpDocumentClient(items), {});

    const cases: Case[] = [
      {
        id: 'cpu.apiKey.unlimited',
        label: 'API key, no limits',
        handler: keyHandler,
        event: requestEvent(unlimitedKey),
        target: 0.3,
        note: 'SHA-256 of the key, the session call, the checks, the Allow policy.',
      },
      {
        id: 'cpu.apiKey.limited',
        label: 'API key, rate limit + quota',
        handler: keyHandler,
        event: requestEvent(limitedKey),
        target: 0.3,
        note: 'Adds the rate and quota bookkeeping.',
      },
      {
        id: 'cpu.jwt.rs256',
        label: 'JWT RS256, warm JWKS',
        handler: rsHandler,
        event: requestEvent(`Bearer ${rs256}`),
        target: 1,
        note: 'Dominated by the RSA-2048 signature verification (node:crypto via jose).',
      },
      {
        id: 'cpu.jwt.hs256',
        label: 'JWT HS256',
        handler: hsHandler,
        event: requestEvent(`Bearer ${hs256}`),
        note: 'HMAC through jose (WebCrypto) is not cheaper than RSA verification here.',
      },
      {
        id: 'cpu.sdk.apiKey.limited',
        label: 'API key, rate limit + quota, with the SDK stack',
        handler: sdkHandler,
        event: requestEvent(limitedKey),
        note: 'The real document client (marshalling, SigV4 signing, JSON (de)serialisation) over an in-memory HTTP handler: what a Lambda also spends per decision.',
      },
    ];

    const context = invocationContext();
    const decide = async (c: Case): Promise<void> => {
      const result = (await c.handler(c.event, context)) as APIGatewayAuthorizerResult;
      if ((result.policyDocument.Statement[0] as { Effect: string }).Effect !== 'Allow')
        throw new Error(`${c.id}: denied; the setup is wrong`);
    };
    // Cold start, JWKS fetch, then enough calls for the JIT to settle (the SDK's stack needs many).
    for (const c of cases) for (let i = 0; i < WARMUP_CALLS; i++) await decide(c);

    const bench = new Bench({ time: TIME_PER_TASK_MS, warmupTime: 500, throws: true });
    for (const c of cases) bench.add(c.id, () => decide(c));
    await bench.run();

    const figures: Figure[] = [];
    for (const c of cases) {
      const result = bench.getTask(c.id)?.result;
      if (result === undefined || !('latency' in result)) throw new Error(`${c.id}: no result (${result?.state})`);
      const cpuMs = await meanCpuMs(() => decide(c));
      const base = { group: GROUP, unit: 'ms' };
      figures.push({
        ...base,
        id: `${c.id}.p50`,
        label: `${c.label} — p50`,
        short: `CPU p50: ${c.label}`,
        value: result.latency.p50,
        ...(c.target === undefined ? {} : { target: { kind: 'max' as const, value: c.target } }),
        note: `${c.note} Mean process CPU ${cpuMs.toFixed(3)} ms/decision over ${CPU_USAGE_CALLS} calls; ${result.latency.samplesCount} samples.`,
      });
      figures.push({
        ...base,
        id: `${c.id}.p99`,
        label: `${c.label} — p99`,
        value: result.latency.p99,
        note: 'Tail: garbage collection and JIT pauses.',
      });
    }
    return figures;
  } finally {
    await jwks.close();
  }
}

function handlerWith(client: DynamoDBDocumentClient, overrides: Parameters<typeof benchConfig>[1]): AuthorizerHandler {
  return createAuthorizerHandler({ config: benchConfig(TABLE, overrides), client, logger: silentLogger(), plugins: [] });
}

/** Process CPU (user + system) per call, ms, over a fixed number of sequential calls. */
async function meanCpuMs(call: () => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < CPU_USAGE_CALLS; i++) await call();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / CPU_USAGE_CALLS;
}

/** Stores a key's session the way `SessionStore.create` does; returns the raw key. */
function seedKey(items: ItemMap, fields: Record<string, unknown>, now: number): string {
  const key = generateKey();
  const keyId = keyIdOf(key);
  const pk = keySessionPk(keyId);
  const fieldsIn = newSessionFields(SessionInputSchema.parse(fields), now);
  const { settings, counters } = storedFields(fieldsIn, fieldsIn);
  items.set(pk, { ...settings, ...counters, pk, kind: 'key', keyId, createdAt: now, updatedAt: now, version: 1 });
  return key;
}

/** A JWT identity's session as if created on first sight (no policies: unlimited). */
function seedJwtSession(items: ItemMap, issuer: string, sub: string, now: number): void {
  const { pk, keyId } = jwtSessionPk(issuer, sub);
  const fieldsIn = newSessionFields(SessionInputSchema.parse({}), now);
  const { settings, counters } = storedFields(fieldsIn, fieldsIn);
  items.set(pk, { ...settings, ...counters, pk, kind: 'jwt', keyId, createdAt: now, updatedAt: now, version: 1 });
}
