/**
 * Policies as the authorizer applies them (README, "Policies"): limits and rights of the policies a
 * key names, and how soon a changed policy takes effect. Over HTTP through the local
 * gateway where the real clock will do; on the pipeline with an injected clock where the
 * policy cache's bound must be crossed.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { createJwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import type { DevServer } from '../../local/dev.ts';
import { createKey, startTestDev } from '../support/dev.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { generateTestKey, jwksOf, signToken, startJwksServer, type JwksServer, type TestKey } from '../support/jwks-server.ts';
import { requestWith } from '../support/pipeline.ts';

function fields(input: PolicyInput): PolicyFields {
  const parsed = parsePolicyInput(input);
  if (!parsed.success) throw new Error('bad test policy');
  return parsed.data;
}

describe('keys with applyPolicies, through the local gateway (policyCacheSeconds 0)', () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startTestDev({ policyCacheSeconds: 0 });
  });
  afterAll(async () => {
    await dev?.stop();
  });

  /** `PUT /policies/{id}` on the admin port, a fresh id unless given; returns the id. */
  async function putPolicy(body: Record<string, unknown>, id = `p-${randomUUID()}`): Promise<string> {
    const res = await fetch(`${dev.adminUrl}/policies/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`PUT /policies/${id} answered ${res.status}: ${await res.text()}`);
    return id;
  }

  async function call(
    key: string,
    path = '/pets',
  ): Promise<{ status: number; reason?: string; authorizer?: Record<string, string | null> }> {
    const res = await fetch(dev.gatewayUrl + path, { headers: { Authorization: key } });
    const body = (await res.json()) as { reason?: string; authorizer?: Record<string, string | null> };
    return { status: res.status, ...body };
  }

  async function statuses(key: string, n: number): Promise<Array<number | string>> {
    const out: Array<number | string> = [];
    for (let i = 0; i < n; i++) {
      const answer = await call(key);
      out.push(answer.status === 200 ? 200 : (answer.reason ?? answer.status));
    }
    return out;
  }

  it('gives a key the quota of its policy, not its own (a renewing policy quota)', async () => {
    const policy = await putPolicy({ quotaMax: 3, quotaRenewalRate: 3600 });
    const { key } = await createKey(dev, { quotaMax: 100, applyPolicies: [policy] });

    const first = await call(key);
    const rest = await statuses(key, 3);

    expect(first).toMatchObject({ status: 200, authorizer: { quotaMax: '3', quotaRemaining: '2' } });
    expect(rest).toEqual([200, 200, 'quota_exceeded']);
  });

  // Counters hold requests used and are judged by the limits in force: under a policy's quota
  // the key's own quotaMax (here 100) plays no part, even when the policy's quota never renews.
  it('gives a key the quota of its policy, not its own (a policy quota that never renews)', async () => {
    const policy = await putPolicy({ quotaMax: 3 });
    const { key } = await createKey(dev, { quotaMax: 100, applyPolicies: [policy] });

    expect(await statuses(key, 4)).toEqual([200, 200, 200, 'quota_exceeded']);
  });

  // The key's own quotaMax is -1 (unlimited); the policy's quota applies from the first request.
  it("lets a key that names only a policy use the policy's quota from its first request", async () => {
    const policy = await putPolicy({ quotaMax: 3 });
    const { key } = await createKey(dev, { applyPolicies: [policy] });

    expect(await statuses(key, 4)).toEqual([200, 200, 200, 'quota_exceeded']);
  });

  it('gives a key the rate limit of its policy, not its own', async () => {
    const policy = await putPolicy({ rate: 2, per: 60 });
    const { key } = await createKey(dev, { rate: 1000, per: 1, applyPolicies: [policy] });

    const answers = await statuses(key, 3);

    expect(answers).toEqual([200, 200, 'rate_limited']);
  });

  it("merges the access rights of the key's policies, and drops the key's own", async () => {
    const pets = await putPolicy({ accessRights: { local: { allowedUrls: [{ url: '/pets(/.*)?', methods: ['GET'] }] } } });
    const owners = await putPolicy({ accessRights: { local: { allowedUrls: [{ url: '/owners(/.*)?', methods: ['GET'] }] } } });
    const { key } = await createKey(dev, { accessRights: {}, applyPolicies: [pets, owners] });

    const answers = await Promise.all(['/pets/1', '/owners/1', '/stores/1'].map((path) => call(key, path)));

    expect(answers.map((a) => (a.status === 200 ? 200 : a.reason))).toEqual([200, 200, 'url_not_allowed']);
  });

  it('denies api_not_allowed for an API outside the policy, even one the key itself lists', async () => {
    const elsewhere = await putPolicy({ accessRights: { 'another-api': {} } });
    const { key } = await createKey(dev, { accessRights: { local: {} }, applyPolicies: [elsewhere] });

    const answer = await call(key);

    expect(answer).toMatchObject({ status: 403, reason: 'api_not_allowed' });
  });

  it("denies key_inactive while one of the key's policies is inactive", async () => {
    const active = await putPolicy({});
    const inactive = await putPolicy({ isInactive: true });
    const { key } = await createKey(dev, { applyPolicies: [active, inactive] });

    const answer = await call(key);

    expect(answer).toMatchObject({ status: 403, reason: 'key_inactive' });
  });

  it('denies no_matching_policy for a key naming a deleted policy', async () => {
    const policy = await putPolicy({});
    const { key } = await createKey(dev, { applyPolicies: [policy] });
    const before = await call(key);

    const deleted = await fetch(`${dev.adminUrl}/policies/${policy}`, { method: 'DELETE' });
    const after = await call(key);

    expect([before.status, deleted.status]).toEqual([200, 204]);
    expect(after).toMatchObject({ status: 403, reason: 'no_matching_policy' });
  });

  it('denies no_matching_policy for a key naming a policy that never existed', async () => {
    const { key } = await createKey(dev, { applyPolicies: ['never-created'] });

    expect(await call(key)).toMatchObject({ status: 403, reason: 'no_matching_policy' });
  });

  it('applies a policy changed through the admin API to the very next request', async () => {
    const policy = await putPolicy({ rate: 0 });
    const { key } = await createKey(dev, { applyPolicies: [policy] });
    const before = await statuses(key, 2);

    await putPolicy({ quotaMax: 0 }, policy);
    const after = await statuses(key, 1);

    expect(before).toEqual([200, 200]);
    expect(after).toEqual(['quota_exceeded']);
  });
});

describe('a changed policy on the pipeline, with an injected clock', () => {
  const T0 = 1_750_000_000_000; // epoch ms
  const ISS = 'https://issuer.test/';
  let table: TestTable;
  let doc: DynamoDBDocumentClient;
  let jwks: JwksServer;
  let rsa: TestKey;
  let admin: PolicyStore;
  let nowMs = T0;
  const clock = (): number => nowMs;

  beforeAll(async () => {
    [table, jwks, rsa] = await Promise.all([createTestTable('policies-cache'), startJwksServer(), generateTestKey('RS256')]);
    jwks.setKeys(jwksOf(rsa));
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    admin = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0, clock });
  });
  afterAll(async () => {
    await jwks?.close();
    await table?.drop();
  });
  beforeEach(() => {
    nowMs = T0;
  });

  /** A pipeline as the authorizer builds it, with its own policy cache (one warm Lambda). */
  function authorizer(policyCacheSeconds: number) {
    const config = parseConfig(
      JSON.stringify({
        tableName: table.tableName,
        policyCacheSeconds,
        jwt: { jwksUrl: jwks.url, algorithms: ['RS256'], issuer: ISS },
      }),
    );
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: config.sessionRetentionSeconds });
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: config.policyCacheSeconds, clock });
    const pipeline = new Pipeline({ config, store, log: silentLog, clock, jwt: createJwtVerifier(config.jwt!, { clock }), policies });
    const keys = new KeyService(store, () => Math.floor(clock() / 1000));
    return { pipeline, keys };
  }

  async function newPolicy(input: PolicyInput): Promise<string> {
    const id = `p-${randomUUID()}`;
    await admin.put(id, fields(input));
    return id;
  }

  /** Outcomes of `n` sequential requests with `credential`: 'allowed' or the denial reason. */
  async function outcomes(pipeline: Pipeline, credential: string, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(reasonOf(await pipeline.authorize(requestWith(credential))));
    return out;
  }

  function reasonOf(decision: Decision): string {
    return decision.allow ? 'allowed' : decision.reason;
  }

  function at(secondsAfterT0: number): void {
    nowMs = T0 + secondsAfterT0 * 1000;
  }

  it('keeps the old rate limit for less than policyCacheSeconds after a change, and the new one from then on', async () => {
    const { pipeline, keys } = authorizer(10);
    const policy = await newPolicy({ rate: 0 });
    const { key } = await keys.create({ applyPolicies: [policy] });
    expect(await outcomes(pipeline, key, 1)).toEqual(['allowed']); // the policy is cached at T0

    at(1);
    await admin.put(policy, fields({ rate: 1, per: 60 }));
    at(9.999);
    const stale = await outcomes(pipeline, key, 3);
    at(10);
    const fresh = await outcomes(pipeline, key, 2);

    expect(stale).toEqual(['allowed', 'allowed', 'allowed']);
    expect(fresh).toEqual(['allowed', 'rate_limited']);
  });

  it('keeps the old quota for less than policyCacheSeconds after a change, and the new one from then on', async () => {
    const { pipeline, keys } = authorizer(10);
    const policy = await newPolicy({ quotaMax: -1 });
    const { key } = await keys.create({ applyPolicies: [policy] });
    await outcomes(pipeline, key, 1);

    await admin.put(policy, fields({ quotaMax: 0 }));
    at(9);
    const stale = await outcomes(pipeline, key, 1);
    at(10);
    const fresh = await outcomes(pipeline, key, 1);

    expect([stale, fresh]).toEqual([['allowed'], ['quota_exceeded']]);
  });

  it('applies a change to the very next request with policyCacheSeconds 0', async () => {
    const { pipeline, keys } = authorizer(0);
    const policy = await newPolicy({ rate: 0 });
    const { key } = await keys.create({ applyPolicies: [policy] });
    await outcomes(pipeline, key, 1);

    await admin.put(policy, fields({ rate: 1, per: 60 }));
    const next = await outcomes(pipeline, key, 2);

    expect(next).toEqual(['allowed', 'rate_limited']);
  });

  it('serves a deleted policy from the cache for less than policyCacheSeconds, then denies no_matching_policy', async () => {
    const { pipeline, keys } = authorizer(10);
    const policy = await newPolicy({});
    const { key } = await keys.create({ applyPolicies: [policy] });
    await outcomes(pipeline, key, 1);

    await admin.delete(policy);
    at(9);
    const stale = await outcomes(pipeline, key, 1);
    at(10);
    const fresh = await outcomes(pipeline, key, 1);

    expect([stale, fresh]).toEqual([['allowed'], ['no_matching_policy']]);
  });

  it('remembers that a policy did not exist for the same bound: a JWT identity seen before its policy was created is denied until then', async () => {
    const { pipeline } = authorizer(10);
    const id = `late-${randomUUID()}`;
    const sub = `early-bird-${randomUUID()}`;
    const token = await signToken(rsa, { iss: ISS, sub, pol: id, iat: T0 / 1000, exp: T0 / 1000 + 3600 });
    const first = await outcomes(pipeline, `Bearer ${token}`, 1);

    await admin.put(id, fields({}));
    at(9);
    const stale = await outcomes(pipeline, `Bearer ${token}`, 1);
    at(10);
    const fresh = await outcomes(pipeline, `Bearer ${token}`, 1);

    expect([first, stale, fresh]).toEqual([['no_matching_policy'], ['no_matching_policy'], ['allowed']]);
  });

  // A changed policy takes effect within policyCacheSeconds (README, "Policies"). Counters hold
  // requests used, so a raised quota applies at once to the count already made, as in Tyk
  // (docs/ARCHITECTURE.md, "Why it is exact", point 6) — not only when the next window opens.
  it("lets an identity that used up its quota in again once its policy's quota is raised (after the cache bound)", async () => {
    const { pipeline } = authorizer(10);
    const policy = await newPolicy({ quotaMax: 2, quotaRenewalRate: 3600 });
    const token = await signToken(rsa, { iss: ISS, sub: `upgraded-${randomUUID()}`, pol: policy, iat: T0 / 1000, exp: T0 / 1000 + 3600 });
    expect(await outcomes(pipeline, `Bearer ${token}`, 3)).toEqual(['allowed', 'allowed', 'quota_exceeded']);

    await admin.put(policy, fields({ quotaMax: 5, quotaRenewalRate: 3600 }));
    at(10);
    const after = await outcomes(pipeline, `Bearer ${token}`, 6);

    // Counting the 2 used against the new 5 (Tyk's counter) or opening a new window of 5
    // are both "the new quota": either way the next request is allowed, and the quota ends.
    expect(after[0]).toBe('allowed');
    expect(after.at(-1)).toBe('quota_exceeded');
  });

  // The same rule in the other direction: a lowered quota applies to the count already made.
  it("holds an identity to its policy's lowered quota (after the cache bound)", async () => {
    const { pipeline } = authorizer(10);
    const policy = await newPolicy({ quotaMax: 100, quotaRenewalRate: 3600 });
    const token = await signToken(rsa, { iss: ISS, sub: `downgraded-${randomUUID()}`, pol: policy, iat: T0 / 1000, exp: T0 / 1000 + 3600 });
    expect(await outcomes(pipeline, `Bearer ${token}`, 1)).toEqual(['allowed']);

    await admin.put(policy, fields({ quotaMax: 2, quotaRenewalRate: 3600 }));
    at(10);
    const after = await outcomes(pipeline, `Bearer ${token}`, 3);

    // 1 left of the new 2 (the used one counted) or a new window of 2: never a third.
    expect(after.at(-1)).toBe('quota_exceeded');
  });

  // The same rule for a JWT identity: a quota its policy sets later applies to the count already made.
  it('gives an identity created under an unlimited policy the quota its policy sets later', async () => {
    const { pipeline } = authorizer(0);
    const policy = await newPolicy({ quotaMax: -1 });
    const token = await signToken(rsa, { iss: ISS, sub: `metered-${randomUUID()}`, pol: policy, iat: T0 / 1000, exp: T0 / 1000 + 3600 });
    expect(await outcomes(pipeline, `Bearer ${token}`, 1)).toEqual(['allowed']);

    await admin.put(policy, fields({ quotaMax: 3 }));
    const after = await outcomes(pipeline, `Bearer ${token}`, 4);

    // 2 or 3 more, whether the request made while unlimited counts or not: then the quota ends.
    expect(after.slice(0, 2)).toEqual(['allowed', 'allowed']);
    expect(after.at(-1)).toBe('quota_exceeded');
  });
});
