/**
 * Model check (fast-check): the pipeline, on DynamoDB Local, against a small reference
 * model written here from the README's "How a request is decided" — inactive → expiry →
 * access rights → rate → quota, with a denied request consuming nothing. Random sessions
 * (any counter state), random request sequences and random clocks; every decision and the
 * counters left behind must match the model. A second property throws random headers and
 * tokens at the handler: never a 500, never an Allow without a valid credential.
 */
import { PutCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthorizerHandler, type AuthorizerHandler } from '../../lambdas/authorizer/handler.ts';
import type { AuthorizerEvent } from '../../lambdas/authorizer/events.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { generateKey, keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import type { AccessRight } from '../../lambdas/core/model/session.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { buildRequestAuthorizerEvent, buildTokenAuthorizerEvent } from '../../local/authorizer-event.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { unsecuredToken, withPayload } from '../support/jwks-server.ts';
import { pipelineOn } from '../support/pipeline.ts';
import { capturingLogger } from './helpers.ts';

/** Runs against DynamoDB Local (each run is one session and up to 8 requests). */
const MODEL_RUNS = 250;
const FUZZ_RUNS = 300;
const BASE_MS = 1_800_000_000_000;
const BASE_S = BASE_MS / 1000;

// ---------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------

interface ModelSession {
  isInactive: boolean;
  expires: number;
  accessRights: Record<string, AccessRight>;
  rate: number;
  per: number;
  quotaMax: number;
  quotaRenewalRate: number;
  quotaRemaining: number;
  /** Epoch ms the quota window started. */
  quotaStart: number;
  rateRemaining?: number;
  /** Epoch ms the rate window started. */
  rateStart?: number;
}

interface ModelRequest {
  readonly credential: 'key' | 'none' | 'unknown';
  readonly apiId: string;
  readonly stage: string;
  readonly method: string;
  readonly path: string;
  /** Milliseconds after the previous request. */
  readonly dtMs: number;
}

type ModelDecision =
  | { allow: true; quotaRemaining: number; rateRemaining: number; quotaRenews: number }
  | { allow: false; reason: string; retryAfter?: number; quotaRenews?: number };

/** The access check, written from the README's access-rights rules (not from access-rights.ts). */
function modelAccess(rights: Record<string, AccessRight>, r: ModelRequest): 'ok' | 'api_not_allowed' | 'url_not_allowed' {
  if (Object.keys(rights).length === 0) return 'ok';
  const right = rights[r.apiId];
  if (right === undefined) return 'api_not_allowed';
  const versions = right.versions;
  if (versions && versions.length > 0 && !versions.includes('Default') && !versions.includes(r.stage)) return 'api_not_allowed';
  const urls = right.allowedUrls;
  if (!urls || urls.length === 0) return 'ok';
  const match = urls.some(
    (u) => new RegExp(`^(?:${u.url})$`).test(r.path) && (!u.methods || u.methods.length === 0 || u.methods.includes(r.method)),
  );
  return match ? 'ok' : 'url_not_allowed';
}

/** One request against the model; mutates `s` only when the request is allowed. */
function modelDecide(s: ModelSession, r: ModelRequest, nowMs: number): ModelDecision {
  if (r.credential === 'none') return { allow: false, reason: 'missing_credential' };
  if (r.credential === 'unknown') return { allow: false, reason: 'key_not_found' };
  const now = Math.floor(nowMs / 1000);
  if (s.isInactive) return { allow: false, reason: 'key_inactive' };
  if (s.expires > 0 && now >= s.expires) return { allow: false, reason: 'session_expired' };
  const access = modelAccess(s.accessRights, r);
  if (access !== 'ok') return { allow: false, reason: access };

  // Rate: a fixed window opened by the first request after the previous one closed.
  let rateRemaining = s.rateRemaining;
  let rateStart = s.rateStart;
  if (s.rate > 0) {
    const end = rateStart === undefined ? undefined : rateStart + s.per * 1000;
    if (end === undefined || end <= nowMs) {
      rateRemaining = s.rate - 1;
      rateStart = nowMs;
    } else if ((rateRemaining ?? 0) > 0) {
      rateRemaining = rateRemaining! - 1;
    } else {
      return { allow: false, reason: 'rate_limited', retryAfter: Math.max(1, Math.ceil((end - nowMs) / 1000)) };
    }
  }
  // Quota: -1 unlimited, 0 none; a renewing window ends at its start plus the renewal rate.
  let quotaRemaining = s.quotaRemaining;
  let quotaStart = s.quotaStart;
  const renews = () => (s.quotaRenewalRate > 0 ? Math.ceil((quotaStart + s.quotaRenewalRate * 1000) / 1000) : 0);
  if (s.quotaMax === 0) return { allow: false, reason: 'quota_exceeded', quotaRenews: renews() };
  if (s.quotaMax > 0) {
    if (s.quotaRenewalRate > 0 && nowMs >= quotaStart + s.quotaRenewalRate * 1000) {
      quotaRemaining = s.quotaMax - 1;
      quotaStart = nowMs;
    } else if (quotaRemaining > 0) {
      quotaRemaining -= 1;
    } else {
      return { allow: false, reason: 'quota_exceeded', quotaRenews: renews() };
    }
  }
  // Allowed: commit both counters together.
  Object.assign(s, { quotaRemaining, quotaStart });
  if (s.rate > 0) Object.assign(s, { rateRemaining, rateStart });
  return {
    allow: true,
    quotaRemaining: s.quotaMax < 0 ? -1 : quotaRemaining,
    rateRemaining: s.rate > 0 ? rateRemaining! : -1,
    quotaRenews: renews(),
  };
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

const accessRightsArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        api1: fc.record(
          {
            versions: fc.constantFrom(['prod'], ['dev'], ['Default'], ['prod', 'dev']),
            allowedUrls: fc.constantFrom(
              [{ url: '/pets(/[0-9]+)?', methods: ['GET'] }],
              [{ url: '/pets' }],
              [
                { url: '/users', methods: ['GET', 'POST'] },
                { url: '/pets/[0-9]+', methods: ['POST'] },
              ],
            ),
          },
          { requiredKeys: [] },
        ),
        api2: fc.constant({}),
      },
      { requiredKeys: [] },
    ),
  },
);

const sessionArb: fc.Arbitrary<ModelSession> = fc
  .record({
    isInactive: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    expires: fc.oneof(
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.integer({ min: BASE_S - 10, max: BASE_S + 40 }) },
    ),
    accessRights: accessRightsArb as fc.Arbitrary<Record<string, AccessRight>>,
    rate: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) }),
    per: fc.integer({ min: 1, max: 10 }),
    quotaMax: fc.oneof(
      { weight: 2, arbitrary: fc.constant(-1) },
      { weight: 1, arbitrary: fc.constant(0) },
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) },
    ),
    quotaRenewalRate: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })),
    quotaRemainingShare: fc.double({ min: 0, max: 1, noNaN: true }),
    quotaStart: fc.integer({ min: BASE_MS - 40_000, max: BASE_MS }),
    rateWindow: fc.option(
      fc.record({ share: fc.double({ min: 0, max: 1, noNaN: true }), resetsIn: fc.integer({ min: -5000, max: 10_000 }) }),
      { nil: undefined },
    ),
  })
  .map(({ quotaRemainingShare, rateWindow, ...s }) => {
    const quotaRemaining = s.quotaMax > 0 ? Math.round(quotaRemainingShare * s.quotaMax) : s.quotaMax;
    const session: ModelSession = { ...s, quotaRemaining };
    if (s.rate > 0 && rateWindow) {
      session.rateRemaining = Math.round(rateWindow.share * s.rate);
      session.rateStart = BASE_MS + rateWindow.resetsIn - s.per * 1000;
    }
    return session;
  });

const requestArb: fc.Arbitrary<ModelRequest> = fc.record({
  credential: fc.oneof(
    { weight: 10, arbitrary: fc.constant('key' as const) },
    { weight: 1, arbitrary: fc.constantFrom('none' as const, 'unknown' as const) },
  ),
  apiId: fc.constantFrom('api1', 'api2', 'api3'),
  stage: fc.constantFrom('prod', 'dev'),
  method: fc.constantFrom('GET', 'POST'),
  path: fc.constantFrom('/pets', '/pets/7', '/users'),
  dtMs: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 12_000 })),
});

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

describe('the pipeline against the reference model, on DynamoDB Local', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('reliability-model');
  });
  afterAll(async () => {
    await table.drop();
  });

  it(`decides every request as the model does, and leaves the same counters (${MODEL_RUNS} random sessions)`, async () => {
    let nowMs = BASE_MS;
    const { pipeline, store } = pipelineOn(table.client, table.tableName, { clock: () => nowMs });
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });

    await fc.assert(
      fc.asyncProperty(sessionArb, fc.array(requestArb, { minLength: 1, maxLength: 8 }), async (initial, requests) => {
        nowMs = BASE_MS;
        const key = generateKey();
        const keyId = keyIdOf(key);
        const pk = keySessionPk(keyId);
        await doc.send(
          new PutCommand({
            TableName: table.tableName,
            Item: {
              ...storedCounters(initial),
              pk,
              kind: 'key',
              keyId,
              applyPolicies: [],
              metaData: {},
              tags: [],
              createdAt: BASE_S,
              updatedAt: BASE_S,
              version: 1,
            },
          }),
        );
        const model: ModelSession = structuredClone(initial);

        for (const [i, r] of requests.entries()) {
          nowMs += r.dtMs;
          const credential = r.credential === 'key' ? key : r.credential === 'unknown' ? generateKey() : undefined;
          const decision = await pipeline.authorize({
            apiId: r.apiId,
            stage: r.stage,
            method: r.method,
            path: r.path,
            headers: credential === undefined ? {} : { authorization: credential },
            query: {},
            sourceIp: '127.0.0.1',
          });
          const expected = modelDecide(model, r, nowMs);
          expect(observed(decision), `request ${i} at +${nowMs - BASE_MS} ms`).toEqual(expected);
        }
        // The counters of the limits in force (an unlimited quota's or a missing rate
        // limit's stored counters mean nothing: see the separate test below).
        const stored = (await store.get(pk)) as StoredSession;
        expect(countersOf(remainingCounters(stored, model), model)).toEqual(countersOf(model, model));
      }),
      { numRuns: MODEL_RUNS },
    );
  }, 180_000);
});

/** The model's session as stored: counters hold requests used (the model counts what is left). */
function storedCounters(session: ModelSession): Record<string, unknown> {
  const { quotaRemaining, rateRemaining, ...rest } = session;
  return {
    ...rest,
    quotaUsed: session.quotaMax > 0 ? session.quotaMax - quotaRemaining : 0,
    ...(rateRemaining === undefined ? {} : { rateUsed: session.rate - rateRemaining }),
  };
}

/** A stored item's counters read as what is left under the model's limits. */
function remainingCounters(
  item: StoredSession,
  limits: ModelSession,
): Pick<ModelSession, 'quotaRemaining' | 'quotaStart' | 'rateRemaining' | 'rateStart'> {
  return {
    quotaRemaining: limits.quotaMax - (item.quotaUsed ?? 0),
    quotaStart: item.quotaStart ?? 0,
    ...(item.rateUsed === undefined ? {} : { rateRemaining: limits.rate - item.rateUsed }),
    ...(item.rateStart === undefined ? {} : { rateStart: item.rateStart }),
  };
}

/** The stored counters that carry meaning for the session's limits. */
function countersOf(
  item: Pick<ModelSession, 'quotaRemaining' | 'quotaStart' | 'rateRemaining' | 'rateStart'>,
  limits: ModelSession,
): Record<string, number | undefined> {
  return {
    ...(limits.quotaMax > 0 ? { quotaRemaining: item.quotaRemaining, quotaStart: item.quotaStart } : {}),
    ...(limits.rate > 0 && limits.rateStart !== undefined ? { rateRemaining: item.rateRemaining, rateStart: item.rateStart } : {}),
  };
}

/** The parts of a decision the model predicts. */
function observed(decision: Decision): ModelDecision {
  if (decision.allow) {
    const c = decision.context;
    return {
      allow: true,
      quotaRemaining: Number(c.quotaRemaining),
      rateRemaining: Number(c.rateRemaining),
      quotaRenews: Number(c.quotaRenews),
    };
  }
  const out: ModelDecision = { allow: false, reason: decision.reason };
  if (decision.reason === 'rate_limited') out.retryAfter = Number(decision.context.retryAfter);
  if (decision.reason === 'quota_exceeded') out.quotaRenews = Number(decision.context.quotaRenews);
  return out;
}

describe('random headers and tokens against the handler', () => {
  const SECRET = 'reliability-fuzz-secret-0123456789abcdef';
  const ISSUER = 'https://issuer.fuzz.invalid/';
  let table: TestTable;
  let handler: AuthorizerHandler;
  let validKey: string;
  let validToken: string;
  let expiredToken: string;
  let wrongSecretToken: string;
  beforeAll(async () => {
    table = await createTestTable('reliability-fuzz');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    validKey = (await new KeyService(store).create({})).key;
    await new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 }).put(
      'free',
      PolicyFieldsSchema.parse({ rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 }),
    ); // no limits, every API
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, secret = SECRET) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
    validToken = await sign({ sub: 'alice', iss: ISSUER, iat: now, exp: now + 3600 });
    expiredToken = await sign({ sub: 'alice', iss: ISSUER, iat: now - 7200, exp: now - 3600 });
    wrongSecretToken = await sign({ sub: 'alice', iss: ISSUER, iat: now, exp: now + 3600 }, 'another-secret-0123456789abcdefghijk');
    handler = createAuthorizerHandler({
      config: parseConfig(
        JSON.stringify({
          tableName: table.tableName,
          jwt: { secret: SECRET, algorithms: ['HS256'], issuer: ISSUER, defaultPolicies: ['free'] },
        }),
      ),
      client: doc,
      logger: capturingLogger().logger,
      plugins: [],
    });
  });
  afterAll(async () => {
    await table.drop();
  });

  it(`never fails (500) and never allows without a valid credential (${FUZZ_RUNS} random requests)`, async () => {
    type Credential = { value: string; valid: boolean };
    const valid = (value: string): Credential => ({ value, valid: true });
    const invalid = (value: string): Credential => ({ value, valid: false });
    const mutate = (s: string, i: number, c: string) => {
      const at = i % s.length;
      const replacement = s[at] === c ? (c === 'A' ? 'B' : 'A') : c;
      return s.slice(0, at) + replacement + s.slice(at + 1);
    };
    const b64 = fc.string({
      unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
      maxLength: 40,
    });

    const credentialArb: fc.Arbitrary<Credential | undefined> = fc.oneof(
      fc.constant(undefined),
      fc.constant(valid(validKey)),
      fc.constant(valid(`Bearer ${validKey}`)),
      fc.constant(valid(`Bearer ${validToken}`)),
      fc.tuple(fc.nat(), fc.constantFrom('A', 'z', '0', '_')).map(([i, c]) => invalid(mutate(validKey, i, c))),
      fc.nat({ max: validKey.length - 1 }).map((n) => invalid(validKey.slice(0, n))),
      fc.string().map((s) => invalid(s)),
      fc.string({ unit: 'binary', maxLength: 64 }).map((s) => invalid(s)),
      fc.string().map((s) => invalid(`Bearer ${s}`)),
      fc.tuple(b64, b64, b64).map(([a, b, c]) => invalid(`Bearer ${a}.${b}.${c}`)),
      fc.constant(invalid(`Bearer ${expiredToken}`)),
      fc.constant(invalid(`Bearer ${wrongSecretToken}`)),
      fc.constant(invalid(`Bearer ${withPayload(validToken, { sub: 'mallory', iss: ISSUER, exp: 4_000_000_000 })}`)),
      fc.constant(invalid(`Bearer ${unsecuredToken({ sub: 'alice', iss: ISSUER, exp: 4_000_000_000 })}`)),
      fc.string().map((s) => invalid(`Bearer ${validToken}${s.replace(/\s/g, '')}x`)),
      fc.string({ maxLength: 8 }).chain((s) => fc.constant(invalid(`${s}${validKey}${s}x`))),
      fc.constant(invalid(`Basic ${Buffer.from(`user:${validKey}`).toString('base64')}`)),
      fc.nat().map((n) => invalid('A'.repeat(1000 + (n % 10_000)))),
    );
    const headerName = fc
      .string({
        unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789'.split('')),
        minLength: 1,
        maxLength: 20,
      })
      .filter((n) => n.toLowerCase() !== 'authorization');
    const otherHeaders = fc.dictionary(headerName, fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 20 })), { maxKeys: 6 });
    const shapeArb = fc.constantFrom('REQUEST' as const, 'TOKEN' as const, 'HTTP' as const);
    const casing = fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION');
    const pathArb = fc.oneof(
      fc.constantFrom('/', '/pets', '/pets/1'),
      fc.string({ maxLength: 30 }).map((p) => `/${p.replace(/[\s?#]/g, '')}`),
    );

    await fc.assert(
      fc.asyncProperty(
        credentialArb,
        otherHeaders,
        shapeArb,
        casing,
        pathArb,
        fc.constantFrom('GET', 'POST', 'DELETE'),
        async (credential, headers, shape, name, path, method) => {
          const all: Record<string, string> = { ...headers };
          if (credential !== undefined) all[name] = credential.value;
          const event = eventOf(shape, all, credential?.value, path, method);
          let outcome: 'allow' | 'deny' | 'unauthorized';
          try {
            outcome = effectOf(await handler(event, lambdaContext('gatepass-authorizer')));
          } catch (error) {
            // Only a missing credential may throw, and only as API Gateway's exact `Unauthorized` (401).
            expect((error as Error).message).toBe('Unauthorized');
            outcome = 'unauthorized';
          }
          if (outcome === 'allow') expect(credential?.valid).toBe(true);
          if (credential?.valid) expect(outcome).toBe('allow');
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  }, 120_000);
});

function eventOf(
  shape: 'REQUEST' | 'TOKEN' | 'HTTP',
  headers: Record<string, string>,
  token: string | undefined,
  path: string,
  method: string,
): AuthorizerEvent {
  if (shape === 'REQUEST') {
    return buildRequestAuthorizerEvent({
      method,
      path,
      headers,
      query: new URLSearchParams(),
      sourceIp: '127.0.0.1',
      apiId: 'fuzz',
      stage: 'dev',
    });
  }
  if (shape === 'TOKEN') {
    // API Gateway only calls a TOKEN authorizer when the identity source is present.
    return buildTokenAuthorizerEvent({ token: token ?? '', method, path, apiId: 'fuzz', stage: 'dev' });
  }
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const event: APIGatewayRequestAuthorizerEventV2 = {
    version: '2.0',
    type: 'REQUEST',
    routeArn: `arn:aws:execute-api:local:000000000000:fuzz/dev/${method}${path}`,
    identitySource: token === undefined ? [] : [token],
    routeKey: '$default',
    rawPath: `/dev${path}`,
    rawQueryString: '',
    cookies: [],
    headers: lower,
    requestContext: {
      accountId: '000000000000',
      apiId: 'fuzz',
      domainName: 'fuzz.execute-api.local.amazonaws.com',
      domainPrefix: 'fuzz',
      http: { method, path: `/dev${path}`, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'fuzz' },
      requestId: 'fuzz',
      routeKey: '$default',
      stage: 'dev',
      time: '',
      timeEpoch: 0,
    },
  };
  return event;
}

function effectOf(result: unknown): 'allow' | 'deny' {
  const simple = result as APIGatewaySimpleAuthorizerWithContextResult<unknown>;
  if (typeof simple.isAuthorized === 'boolean') return simple.isAuthorized ? 'allow' : 'deny';
  const statement = (result as APIGatewayAuthorizerResult).policyDocument.Statement[0] as { Effect: string };
  return statement.Effect === 'Allow' ? 'allow' : 'deny';
}

describe('stored counters of limits that are not in force', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('reliability-counters');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('keeps an unlimited quota at quotaRemaining -1 however many requests a rate-limited key makes', async () => {
    const { pipeline, keys } = pipelineOn(table.client, table.tableName);
    const { key, keyId } = await keys.create({ rate: 100, per: 60 });
    for (let i = 0; i < 5; i++) {
      const decision = await pipeline.authorize({
        apiId: 'a',
        stage: 's',
        method: 'GET',
        path: '/',
        headers: { authorization: key },
        query: {},
        sourceIp: '127.0.0.1',
      });
      expect(decision.allow).toBe(true);
    }
    const session = await keys.get(keyId);
    expect({ quotaMax: session.quotaMax, quotaRemaining: session.quotaRemaining }).toEqual({ quotaMax: -1, quotaRemaining: -1 });
  });
});
