/**
 * JWT identities' sessions on the pipeline, on DynamoDB Local, with a real JWKS server and
 * an injected clock (token times, session expiry and the policy cache all follow it):
 * the two expiries of I8, the session created once per identity (and never for a refused
 * token or a missing policy), and what is logged.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../lambdas/core/model/config.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import { createJwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import type { Log } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, scanAll, type TestTable } from '../support/dynamo.ts';
import { recordingLog } from '../support/fixtures.ts';
import {
  generateTestKey,
  jwksOf,
  signToken,
  startJwksServer,
  unsecuredToken,
  type JwksServer,
  type TestKey,
} from '../support/jwks-server.ts';
import { concurrently, requestWith } from '../support/pipeline.ts';

const T0 = 1_750_000_000; // epoch s
const ISS = 'https://issuer.test/';
const AUD = 'gatepass-api';
const YEAR = 365 * 86_400;

let table: TestTable;
let doc: DynamoDBDocumentClient;
let jwks: JwksServer;
let rsa: TestKey;
/** The injected clock, epoch ms. */
let nowMs = T0 * 1000;
const clock = (): number => nowMs;
const now = (): number => Math.floor(nowMs / 1000);

/** Policies as the admin Lambda writes them (no cache). */
let admin: PolicyStore;

beforeAll(async () => {
  [table, jwks, rsa] = await Promise.all([createTestTable('jwt-sessions'), startJwksServer(), generateTestKey('RS256')]);
  jwks.setKeys(jwksOf(rsa));
  doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
  admin = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0, clock });
});
afterAll(async () => {
  await jwks?.close();
  await table?.drop();
});
beforeEach(() => {
  nowMs = T0 * 1000;
});

/**
 * A pipeline as the authorizer handler builds it (JWT verifier and policy cache included),
 * on the test table and the test clock.
 */
function jwtPipeline(options: { config?: Record<string, unknown>; log?: Log } = {}): { pipeline: Pipeline; config: Config; log: Log } {
  const config = parseConfig(
    JSON.stringify({
      tableName: table.tableName,
      jwt: { jwksUrl: jwks.url, algorithms: ['RS256', 'ES256'], issuer: ISS, audience: AUD },
      ...options.config,
    }),
  );
  const log = options.log ?? recordingLog();
  const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: config.sessionRetentionSeconds });
  const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: config.policyCacheSeconds, clock });
  const pipeline = new Pipeline({ config, store, log, clock, jwt: createJwtVerifier(config.jwt!, { clock }), policies });
  return { pipeline, config, log };
}

function fields(input: PolicyInput): PolicyFields {
  const parsed = parsePolicyInput(input);
  if (!parsed.success) throw new Error('bad test policy');
  return parsed.data;
}

/** Creates a policy with a unique id, as the admin API does. */
async function policy(input: PolicyInput): Promise<string> {
  const id = `p-${randomUUID()}`;
  await admin.put(id, fields(input));
  return id;
}

/** A token for `sub` issued at the current test time, valid for an hour unless overridden. */
function token(sub: string, overrides: JWTPayload = {}): Promise<string> {
  return signToken(rsa, { iss: ISS, aud: AUD, sub, iat: now(), exp: now() + 3600, ...overrides });
}

function authorize(pipeline: Pipeline, jwt: string): Promise<Decision> {
  return pipeline.authorize(requestWith(`Bearer ${jwt}`));
}

function reasonOf(decision: Decision): string {
  return decision.allow ? 'allowed' : decision.reason;
}

/** JWT identities' sessions (not the records of their versions, `<pk>#past`, beside each). */
async function jwtItems(): Promise<Record<string, unknown>[]> {
  return (await scanAll(table.tableName, table.client)).filter(
    (item) => String(item.pk).startsWith('jwt#') && !String(item.pk).endsWith('#past'),
  );
}

async function sessionOf(sub: string): Promise<Record<string, unknown> | undefined> {
  return (await jwtItems()).find((item) => item.pk === jwtSessionPk(ISS, sub).pk);
}

describe('the two expiries of a JWT identity (I8)', () => {
  it('creates the session on the first request, expiring keyExpiresIn after it', async () => {
    const trial = await policy({ keyExpiresIn: 2 });
    const sub = `trial-${randomUUID()}`;
    const { pipeline } = jwtPipeline();

    const decision = await authorize(pipeline, await token(sub, { pol: trial }));

    expect(decision).toMatchObject({ allow: true, principalId: sub, context: { expires: T0 + 2 } });
    expect(await sessionOf(sub)).toMatchObject({ kind: expect.stringMatching(/^jwt#[0-9a-f]$/), expires: T0 + 2, applyPolicies: [trial] });
  });

  it('denies a fresh, valid token with session_expired once the session has expired: a new token never extends it', async () => {
    const trial = await policy({ keyExpiresIn: 2 });
    const sub = `trial-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    expect((await authorize(pipeline, await token(sub, { pol: trial }))).allow).toBe(true);

    nowMs += 3000;
    const fresh = await token(sub, { pol: trial }); // issued now, valid for an hour
    const decision = await authorize(pipeline, fresh);

    expect(decision).toMatchObject({ allow: false, reason: 'session_expired', message: 'Key has expired, please renew', principalId: sub });
    expect(await sessionOf(sub)).toMatchObject({ expires: T0 + 2, version: 1 });
  });

  it('allows up to the second before the session expires, and denies from that second on', async () => {
    const trial = await policy({ keyExpiresIn: 2 });
    const sub = `edge-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    await authorize(pipeline, await token(sub, { pol: trial }));

    nowMs = (T0 + 1) * 1000 + 999;
    const lastAllowed = await authorize(pipeline, await token(sub));
    nowMs = (T0 + 2) * 1000;
    const firstDenied = await authorize(pipeline, await token(sub));

    expect([reasonOf(lastAllowed), reasonOf(firstDenied)]).toEqual(['allowed', 'session_expired']);
  });

  it('names the token, not the session, when both have expired (the token is checked first)', async () => {
    const trial = await policy({ keyExpiresIn: 2 });
    const sub = `both-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    const short = await token(sub, { pol: trial, exp: now() + 5 });
    await authorize(pipeline, short);

    nowMs += 3600_000;
    const decision = await authorize(pipeline, short);

    expect(decision).toMatchObject({ allow: false, reason: 'token_expired' });
  });

  it("logs the session_expired denial with the token's iat, nbf and exp, the session's expires and the server time", async () => {
    const trial = await policy({ keyExpiresIn: 2 });
    const sub = `logged-${randomUUID()}`;
    const log = recordingLog();
    const { pipeline } = jwtPipeline({ log });
    await authorize(pipeline, await token(sub, { pol: trial }));

    nowMs += 3000;
    const times = { iat: now(), nbf: now(), exp: now() + 3600 };
    await authorize(pipeline, await token(sub, times));

    const denials = log.entries.filter((entry) => entry.fields.reason === 'session_expired');
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({
      message: 'request denied',
      fields: { identity: sub, token: times, serverTime: T0 + 3, context: { expires: T0 + 2 } },
    });
  });

  it("with keyExpiresIn 0, lets the token's exp alone decide: a valid token is allowed years later", async () => {
    const forever = await policy({ keyExpiresIn: 0 });
    const sub = `forever-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    await authorize(pipeline, await token(sub, { pol: forever }));

    nowMs += 3 * YEAR * 1000;
    const decision = await authorize(pipeline, await token(sub));

    expect(decision).toMatchObject({ allow: true, principalId: sub, context: { expires: 0 } });
    expect(await sessionOf(sub)).toMatchObject({ expires: 0 });
  });

  it("with keyExpiresIn 0, denies the identity's expired token with token_expired", async () => {
    const forever = await policy({ keyExpiresIn: 0 });
    const sub = `forever-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    const jwt = await token(sub, { pol: forever, exp: now() + 600 });
    expect((await authorize(pipeline, jwt)).allow).toBe(true);

    nowMs += 600_000 + 61_000; // past exp and the 60 s tolerance
    const decision = await authorize(pipeline, jwt);

    expect(decision).toMatchObject({ allow: false, reason: 'token_expired', message: 'Key not authorized: token has expired' });
  });

  it("fixes the session's expiry when it is created: a later keyExpiresIn 0 on the policy does not revive it", async () => {
    const trial = await policy({ keyExpiresIn: 2 });
    const sub = `revived-${randomUUID()}`;
    const { pipeline } = jwtPipeline({ config: { policyCacheSeconds: 0 } });
    await authorize(pipeline, await token(sub, { pol: trial }));

    await admin.put(trial, fields({ keyExpiresIn: 0 }));
    nowMs += 3000;
    const decision = await authorize(pipeline, await token(sub, { pol: trial }));

    expect(decision).toMatchObject({ allow: false, reason: 'session_expired' });
  });

  it('takes the shortest non-zero keyExpiresIn when the token names several policies', async () => {
    const [long, short, never] = await Promise.all([
      policy({ keyExpiresIn: 600 }),
      policy({ keyExpiresIn: 60 }),
      policy({ keyExpiresIn: 0 }),
    ]);
    const sub = `several-${randomUUID()}`;
    const { pipeline } = jwtPipeline();

    await authorize(pipeline, await token(sub, { pol: [long, short, never] }));

    expect(await sessionOf(sub)).toMatchObject({ expires: T0 + 60 });
  });
});

describe('clock skew between the issuer and the authorizer', () => {
  it("allows a token issued 30 s ahead of the server clock and creates its session at the server's time", async () => {
    const free = await policy({ keyExpiresIn: 100 });
    const sub = `ahead-${randomUUID()}`;
    const { pipeline } = jwtPipeline();

    const decision = await authorize(pipeline, await token(sub, { pol: free, iat: now() + 30, nbf: now() + 30 }));

    expect(decision.allow).toBe(true);
    expect(await sessionOf(sub)).toMatchObject({ createdAt: T0, expires: T0 + 100 });
  });

  it('denies a token valid only in 300 s with token_not_yet_valid, logging both clocks', async () => {
    const free = await policy({});
    const log = recordingLog();
    const { pipeline } = jwtPipeline({ log });
    const times = { iat: now() + 300, nbf: now() + 300, exp: now() + 3900 };
    const sub = `early-${randomUUID()}`;

    const decision = await authorize(pipeline, await token(sub, { pol: free, ...times }));

    expect(decision).toMatchObject({ allow: false, reason: 'token_not_yet_valid', message: expect.stringContaining('clock skew') });
    expect(log.entries.find((entry) => entry.fields.reason === 'token_not_yet_valid')).toMatchObject({
      fields: { token: times, serverTime: T0 },
    });
    expect(await sessionOf(sub)).toBeUndefined();
  });

  it('honours a custom clockTolerance of 0: a token issued 30 s ahead is not valid yet', async () => {
    const free = await policy({});
    const { pipeline } = jwtPipeline({
      config: { jwt: { jwksUrl: jwks.url, algorithms: ['RS256'], issuer: ISS, audience: AUD, clockTolerance: 0 } },
    });

    const decision = await authorize(pipeline, await token(`strict-${randomUUID()}`, { pol: free, iat: now() + 30 }));

    expect(decision).toMatchObject({ allow: false, reason: 'token_not_yet_valid' });
  });
});

describe('one session per identity', () => {
  it('reuses the session of the first token: a later token naming other policies does not change it', async () => {
    const [small, big] = await Promise.all([policy({ quotaMax: 2 }), policy({ quotaMax: 1000 })]);
    const sub = `upgrade-${randomUUID()}`;
    const { pipeline } = jwtPipeline();

    const decisions: Decision[] = [];
    decisions.push(await authorize(pipeline, await token(sub, { pol: small })));
    for (let i = 0; i < 2; i++) decisions.push(await authorize(pipeline, await token(sub, { pol: big, jti: `big-${i}` })));

    expect(decisions.map(reasonOf)).toEqual(['allowed', 'allowed', 'quota_exceeded']);
    expect(await sessionOf(sub)).toMatchObject({ applyPolicies: [small], quotaMax: 2 });
  });

  it('keys the session by issuer and identity: another sub, or the same sub from another issuer, is another identity', async () => {
    const one = await policy({ quotaMax: 1 });
    const sub = `twin-${randomUUID()}`;
    const { pipeline } = jwtPipeline({ config: { jwt: { jwksUrl: jwks.url, algorithms: ['RS256'], audience: AUD } } });

    const first = await authorize(pipeline, await token(sub, { pol: one, iss: 'https://a.test/' }));
    const second = await authorize(pipeline, await token(sub, { pol: one, iss: 'https://b.test/' }));
    const other = await authorize(pipeline, await token(`other-${sub}`, { pol: one, iss: 'https://a.test/' }));

    expect([reasonOf(first), reasonOf(second), reasonOf(other)]).toEqual(['allowed', 'allowed', 'allowed']);
    const keyIds = [first, second, other].map((d) => (d.allow ? d.context.keyId : undefined));
    expect(new Set(keyIds).size).toBe(3);
  });

  it('creates no session for a refused token: unsecured, for another audience, or not valid yet', async () => {
    const free = await policy({});
    const sub = `refused-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    const before = (await jwtItems()).length;

    const decisions = [
      await authorize(pipeline, unsecuredToken({ iss: ISS, aud: AUD, sub, pol: free, iat: now(), exp: now() + 3600 })),
      await authorize(pipeline, await token(sub, { pol: free, aud: 'another-api' })),
      await authorize(pipeline, await token(sub, { pol: free, nbf: now() + 300 })),
    ];

    expect(decisions.map(reasonOf)).toEqual(['token_invalid', 'token_invalid', 'token_not_yet_valid']);
    expect(await jwtItems()).toHaveLength(before);
    expect(await sessionOf(sub)).toBeUndefined();
  });

  it('creates exactly one session for 50 concurrent first requests, with 50 decrements of its quota', async () => {
    const hundred = await policy({ quotaMax: 100 });
    const sub = `crowd-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    const tokens = await concurrently(50, (i) => token(sub, { pol: hundred, jti: `t${i}` }));
    const before = (await jwtItems()).length;

    const decisions = await concurrently(50, (i) => authorize(pipeline, tokens[i]!));

    expect(decisions.filter((d) => d.allow)).toHaveLength(50);
    expect(await jwtItems()).toHaveLength(before + 1);
    expect(await sessionOf(sub)).toMatchObject({ quotaMax: 100, quotaUsed: 50, version: 1 });
    const remaining = decisions.map((d) => (d.allow ? d.context.quotaRemaining : undefined)).sort((a, b) => Number(a) - Number(b));
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
  });

  it('allows exactly quotaMax of 50 concurrent first requests when the quota is smaller', async () => {
    const twelve = await policy({ quotaMax: 12 });
    const sub = `crowd-small-${randomUUID()}`;
    const { pipeline } = jwtPipeline();
    const tokens = await concurrently(50, (i) => token(sub, { pol: twelve, jti: `t${i}` }));

    const decisions = await concurrently(50, (i) => authorize(pipeline, tokens[i]!));

    expect(decisions.filter((d) => d.allow)).toHaveLength(12);
    expect(decisions.filter((d) => !d.allow).map(reasonOf)).toEqual(Array(38).fill('quota_exceeded'));
    expect((await jwtItems()).filter((item) => item.pk === jwtSessionPk(ISS, sub).pk)).toHaveLength(1);
  });
});

describe('policies of a new identity', () => {
  it.each([
    ['a policy that does not exist', (_: string) => ['does-not-exist']],
    ['one existing policy and one missing', (existing: string) => [existing, 'does-not-exist']],
  ])('denies no_matching_policy for a token naming %s, and creates no session', async (_, pol) => {
    const existing = await policy({ quotaMax: 3 });
    const sub = `nopolicy-${randomUUID()}`;
    const { pipeline } = jwtPipeline();

    const decision = await authorize(pipeline, await token(sub, { pol: pol(existing) }));

    expect(decision).toMatchObject({ allow: false, reason: 'no_matching_policy', message: 'Key not authorized: no matching policy' });
    expect(await sessionOf(sub)).toBeUndefined();
  });
});

describe('policies of an existing identity', () => {
  it("denies key_inactive when the identity's policy is made inactive, and allows again when it is reactivated", async () => {
    const id = await policy({});
    const sub = `paused-${randomUUID()}`;
    const { pipeline } = jwtPipeline({ config: { policyCacheSeconds: 0 } });
    await authorize(pipeline, await token(sub, { pol: id }));

    await admin.put(id, fields({ isInactive: true }));
    const paused = await authorize(pipeline, await token(sub));
    await admin.put(id, fields({}));
    const resumed = await authorize(pipeline, await token(sub));

    expect([reasonOf(paused), reasonOf(resumed)]).toEqual(['key_inactive', 'allowed']);
  });

  it("denies no_matching_policy once the identity's policy is deleted", async () => {
    const id = await policy({});
    const sub = `orphan-${randomUUID()}`;
    const { pipeline } = jwtPipeline({ config: { policyCacheSeconds: 0 } });
    await authorize(pipeline, await token(sub, { pol: id }));

    await admin.delete(id);
    const decision = await authorize(pipeline, await token(sub, { pol: id }));

    expect(decision).toMatchObject({ allow: false, reason: 'no_matching_policy' });
  });

  it('uses defaultPolicies for a token without pol, and denies no_matching_policy without them', async () => {
    const free = await policy({ quotaMax: 7 });
    const withDefaults = jwtPipeline({
      config: { jwt: { jwksUrl: jwks.url, algorithms: ['RS256'], issuer: ISS, audience: AUD, defaultPolicies: [free] } },
    });
    const without = jwtPipeline();

    const defaulted = await authorize(withDefaults.pipeline, await token(`defaulted-${randomUUID()}`));
    const refused = await authorize(without.pipeline, await token(`refused-${randomUUID()}`));

    expect(defaulted).toMatchObject({ allow: true, context: { quotaMax: 7, quotaRemaining: 6 } });
    expect(refused).toMatchObject({ allow: false, reason: 'no_matching_policy' });
  });
});
