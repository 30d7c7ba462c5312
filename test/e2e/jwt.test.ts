/**
 * JWT identities end to end: a real JWKS server (test/support/jwks-server.ts), the local
 * gateway in front of the real authorizer, policies created through the admin port.
 * Token times are relative to the real clock here; behaviour that needs time to move is
 * in test/integration/jwt-sessions.test.ts, on the pipeline with an injected clock.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import type { DevServer } from '../../local/dev.ts';
import { createKey } from '../support/dev.ts';
import { scanAll } from '../support/dynamo.ts';
import {
  generateTestKey, jwksOf, signToken, startJwksServer, unsecuredToken, withPayload,
  type JwksServer, type TestKey,
} from '../support/jwks-server.ts';
import { bearer, call, captureLogs, claims, ISS, nowSeconds, putPolicy, startJwtDev, type Answer } from '../support/jwt-gateway.ts';

const logEntries = captureLogs();

/** The authorizer's JSON log entries with this `reason`. */
function denialsLogged(reason: string): Array<Record<string, unknown>> {
  return logEntries().filter((entry) => entry.reason === reason);
}

describe('JWT identities through the local gateway', () => {
  let jwks: JwksServer;
  let rsa: TestKey;
  let ec: TestKey;
  let dev: DevServer;

  beforeAll(async () => {
    [jwks, rsa, ec] = await Promise.all([startJwksServer(), generateTestKey('RS256'), generateTestKey('ES256')]);
    jwks.setKeys(jwksOf(rsa, ec));
    dev = await startJwtDev(jwks, { defaultPolicies: ['free'] });
    // Before any token arrives: the authorizer caches "no such policy" too.
    await putPolicy(dev, 'free', {});
    await putPolicy(dev, 'three', { quotaMax: 3 });
    await putPolicy(dev, 'twenty', { quotaMax: 20 });
  });
  afterAll(async () => {
    await dev?.stop();
    await jwks?.close();
  });

  describe('valid tokens', () => {
    it.each(['RS256', 'ES256'] as const)('allows a valid %s token, with the sub as principal and the identity\'s session in the context', async (alg) => {
      const sub = `user-${alg}-${randomUUID()}`;

      const answer = await bearer(dev, await signToken(alg === 'RS256' ? rsa : ec, claims(sub)));

      expect(answer.status).toBe(200);
      expect(answer.body.authorizer).toMatchObject({ principalId: sub, keyId: jwtSessionPk(ISS, sub).keyId, quotaMax: '-1', expires: '0' });
    });

    it('allows a token issued 30 s in the future (issuer clock ahead, within the default 60 s tolerance)', async () => {
      const now = nowSeconds();

      const answer = await bearer(dev, await signToken(rsa, claims(`ahead-${randomUUID()}`, { iat: now + 30, nbf: now + 30 })));

      expect(answer.status).toBe(200);
    });

    it('takes the identity\'s policies from the token\'s pol claim rather than the defaults', async () => {
      const answer = await bearer(dev, await signToken(rsa, claims(`pol-${randomUUID()}`, { pol: 'three' })));

      expect(answer.status).toBe(200);
      expect(answer.body.authorizer).toMatchObject({ quotaMax: '3', quotaRemaining: '2' });
    });
  });

  describe('token times', () => {
    it('denies a token valid only in 300 s with 403 token_not_yet_valid, the message pointing at clock skew', async () => {
      const answer = await bearer(dev, await signToken(rsa, claims(`early-${randomUUID()}`, { nbf: nowSeconds() + 300 })));

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: 'Key not authorized: token not valid yet (check clock skew)', reason: 'token_not_yet_valid' });
      expect(answer.body.error).toMatch(/clock skew/);
    });

    it('logs the token\'s iat, nbf and exp next to the server time when it denies a token as not yet valid', async () => {
      const now = nowSeconds();
      const times = { iat: now + 200, nbf: now + 200, exp: now + 3600 };

      const token = await signToken(rsa, claims(`skewed-${randomUUID()}`, times));
      const sentAt = nowSeconds();
      await bearer(dev, token);
      const answeredBy = nowSeconds();

      const entry = denialsLogged('token_not_yet_valid').find((e) => (e.token as { nbf?: number } | undefined)?.nbf === times.nbf);
      expect(entry).toMatchObject({ message: 'request denied', token: times, serverTime: expect.any(Number) });
      expect(entry!.serverTime).toBeGreaterThanOrEqual(sentAt);
      expect(entry!.serverTime).toBeLessThanOrEqual(answeredBy);
    });

    it('denies a token issued 300 s in the future with 403 token_not_yet_valid', async () => {
      const answer = await bearer(dev, await signToken(rsa, claims(`future-${randomUUID()}`, { iat: nowSeconds() + 300 })));

      expect(answer).toMatchObject({ status: 403, body: { reason: 'token_not_yet_valid' } });
    });

    it('denies an expired token with 403 token_expired, even when the session never expires', async () => {
      const now = nowSeconds();

      const answer = await bearer(dev, await signToken(rsa, claims(`late-${randomUUID()}`, { iat: now - 3600, exp: now - 120 })));

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: 'Key not authorized: token has expired', reason: 'token_expired' });
    });
  });

  describe('refused tokens (403 token_invalid)', () => {
    it('refuses an unsecured token (alg none)', async () => {
      const answer = await bearer(dev, unsecuredToken(claims(`none-${randomUUID()}`)));

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: 'Key not authorized', reason: 'token_invalid' });
    });

    it('refuses HS256 MAC-ed with the RSA public key under its kid (algorithm confusion)', async () => {
      const forged = await new SignJWT(claims(`confused-${randomUUID()}`))
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(rsa.publicPem));

      const answer = await bearer(dev, forged);

      expect(answer).toMatchObject({ status: 403, body: { reason: 'token_invalid' } });
    });

    it('refuses a token signed by a key whose kid is not in the JWKS', async () => {
      const stranger = await generateTestKey('RS256', `unknown-${randomUUID()}`);

      const answer = await bearer(dev, await signToken(stranger, claims(`stranger-${randomUUID()}`)));

      expect(answer).toMatchObject({ status: 403, body: { reason: 'token_invalid' } });
    });

    it.each([
      ['issuer', { iss: 'https://evil.test/' }],
      ['audience', { aud: 'another-api' }],
    ])('refuses a token with the wrong %s', async (_, overrides) => {
      const answer = await bearer(dev, await signToken(rsa, claims(`wrong-${randomUUID()}`, overrides)));

      expect(answer).toMatchObject({ status: 403, body: { reason: 'token_invalid' } });
    });

    it('refuses a token whose payload was changed after signing', async () => {
      const sub = `victim-${randomUUID()}`;
      const token = await signToken(rsa, claims(sub));

      const answer = await bearer(dev, withPayload(token, claims(sub, { pol: 'twenty', exp: nowSeconds() + 86_400 * 365 })));

      expect(answer).toMatchObject({ status: 403, body: { reason: 'token_invalid' } });
    });

    it('refuses a token without an identity claim', async () => {
      const answer = await bearer(dev, await signToken(rsa, claims('', { sub: undefined })));

      expect(answer).toMatchObject({ status: 403, body: { reason: 'token_invalid' } });
    });

    it('creates no session for any refused token', async () => {
      const before = (await scanAll(dev.tableName)).filter((item) => String(item.pk).startsWith('jwt#')).length;
      const sub = `refused-${randomUUID()}`;

      await bearer(dev, unsecuredToken(claims(sub)));
      await bearer(dev, await signToken(rsa, claims(sub, { aud: 'another-api' })));
      await bearer(dev, await signToken(rsa, claims(sub, { nbf: nowSeconds() + 300 })));

      const items = await scanAll(dev.tableName);
      expect(items.filter((item) => String(item.pk).startsWith('jwt#'))).toHaveLength(before);
      expect(items.find((item) => item.pk === jwtSessionPk(ISS, sub).pk)).toBeUndefined();
    });
  });

  describe('one session per identity, whatever the token', () => {
    it('shares the quota of a sub between two different tokens: 3 allowed, then quota_exceeded', async () => {
      const sub = `shared-${randomUUID()}`;
      const first = await signToken(rsa, claims(sub, { pol: 'three', jti: 'first' }));
      const second = await signToken(ec, claims(sub, { pol: 'three', jti: 'second' }));
      expect(first).not.toBe(second);

      const answers: Answer[] = [];
      for (const token of [first, second, first, second]) answers.push(await bearer(dev, token));

      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 403]);
      expect(answers.map((a) => a.body.authorizer?.quotaRemaining)).toEqual(['2', '1', '0', undefined]);
      expect(answers[3]!.body).toMatchObject({ error: 'Quota exceeded', reason: 'quota_exceeded' });
    });

    it('gives two different subs separate quotas', async () => {
      const [alice, bob] = [`alice-${randomUUID()}`, `bob-${randomUUID()}`];
      const aliceToken = await signToken(rsa, claims(alice, { pol: 'three' }));
      const bobToken = await signToken(rsa, claims(bob, { pol: 'three' }));

      const aliceStatuses: number[] = [];
      for (let i = 0; i < 4; i++) aliceStatuses.push((await bearer(dev, aliceToken)).status);
      const bobAnswer = await bearer(dev, bobToken);

      expect(aliceStatuses).toEqual([200, 200, 200, 403]);
      expect(bobAnswer.status).toBe(200);
      expect(bobAnswer.body.authorizer).toMatchObject({ principalId: bob, quotaRemaining: '2' });
    });

    it('creates exactly one session for 50 concurrent first requests of a new identity, and allows exactly its quota of 20', async () => {
      const sub = `crowd-${randomUUID()}`;
      const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => signToken(i % 2 ? rsa : ec, claims(sub, { pol: 'twenty', jti: `t${i}` }))));

      const answers = await Promise.all(tokens.map((token) => bearer(dev, token)));

      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(answers.filter((a) => a.status === 403).map((a) => a.body.reason)).toEqual(Array(30).fill('quota_exceeded'));
      const sessions = (await scanAll(dev.tableName)).filter((item) => item.pk === jwtSessionPk(ISS, sub).pk);
      expect(sessions).toHaveLength(1);
      expect(sessions[0]).toMatchObject({ kind: 'jwt', quotaMax: 20, quotaRemaining: 0, version: 1, applyPolicies: ['twenty'] });
    });
  });

  describe('policies of a new identity', () => {
    it('denies a token whose pol names a policy that does not exist with 403 no_matching_policy, and creates no session', async () => {
      const sub = `nopolicy-${randomUUID()}`;

      const answer = await bearer(dev, await signToken(rsa, claims(sub, { pol: 'does-not-exist' })));

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: 'Key not authorized: no matching policy', reason: 'no_matching_policy' });
      expect((await scanAll(dev.tableName)).find((item) => item.pk === jwtSessionPk(ISS, sub).pk)).toBeUndefined();
    });

    it('denies a token whose pol names one existing and one missing policy with no_matching_policy', async () => {
      const answer = await bearer(dev, await signToken(rsa, claims(`halfpolicy-${randomUUID()}`, { pol: ['three', 'does-not-exist'] })));

      expect(answer).toMatchObject({ status: 403, body: { reason: 'no_matching_policy' } });
    });
  });

  describe('API keys next to JWT', () => {
    it('still accepts a gp_ key in Authorization, raw and as Bearer, when JWT is configured', async () => {
      const { key, keyId } = await createKey(dev, { quotaMax: 5 });

      const raw = await call(dev, key);
      const asBearer = await call(dev, `Bearer ${key}`);

      expect(key).toMatch(/^gp_/);
      expect([raw.status, asBearer.status]).toEqual([200, 200]);
      expect(asBearer.body.authorizer).toMatchObject({ principalId: keyId, keyId, quotaRemaining: '3' });
    });

    it('denies an unknown gp_ key with key_not_found, not token_invalid', async () => {
      const answer = await call(dev, 'Bearer gp_this-key-does-not-exist-at-all');

      expect(answer).toMatchObject({ status: 403, body: { reason: 'key_not_found' } });
    });
  });

  describe('when the JWKS server is down', () => {
    it('keeps allowing tokens signed by keys it has already fetched', async () => {
      const sub = `cached-${randomUUID()}`;
      await bearer(dev, await signToken(rsa, claims(`warm-${randomUUID()}`))); // the RSA key is cached
      const fetchesBefore = jwks.requests();
      jwks.down('reset');
      try {
        const answer = await bearer(dev, await signToken(rsa, claims(sub)));

        expect(answer.status).toBe(200);
        expect(answer.body.authorizer).toMatchObject({ principalId: sub });
        expect(jwks.requests()).toBe(fetchesBefore);
      } finally {
        jwks.up();
      }
    });
  });
});

describe('a fresh stack whose JWKS server is down', () => {
  let jwks: JwksServer;
  let rsa: TestKey;
  let dev: DevServer;

  beforeAll(async () => {
    [jwks, rsa] = await Promise.all([startJwksServer(), generateTestKey('RS256')]);
    jwks.setKeys(jwksOf(rsa));
    jwks.down('unavailable');
    dev = await startJwtDev(jwks, { defaultPolicies: ['free'] });
    await putPolicy(dev, 'free', {});
  });
  afterAll(async () => {
    await dev?.stop();
    await jwks?.close();
  });

  it('fails closed with 500 for a valid token, never Allow, and creates no session', async () => {
    const answers = [
      await bearer(dev, await signToken(rsa, claims(`cold-${randomUUID()}`))),
      await bearer(dev, await signToken(rsa, claims(`cold-${randomUUID()}`))),
    ];

    for (const answer of answers) {
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({ error: 'Authorizer failure', reason: 'authorizer_failure' });
    }
    expect(jwks.requests()).toBeGreaterThan(0);
    expect((await scanAll(dev.tableName)).filter((item) => String(item.pk).startsWith('jwt#'))).toEqual([]);
  });

  it('allows again once the JWKS server answers', async () => {
    jwks.up();

    const answer = await bearer(dev, await signToken(rsa, claims(`recovered-${randomUUID()}`)));

    expect(answer.status).toBe(200);
  });
});

describe('a stack without defaultPolicies', () => {
  let jwks: JwksServer;
  let rsa: TestKey;
  let dev: DevServer;

  beforeAll(async () => {
    [jwks, rsa] = await Promise.all([startJwksServer(), generateTestKey('RS256')]);
    jwks.setKeys(jwksOf(rsa));
    dev = await startJwtDev(jwks);
    await putPolicy(dev, 'gold', {});
  });
  afterAll(async () => {
    await dev?.stop();
    await jwks?.close();
  });

  it('denies a valid token without a pol claim with 403 no_matching_policy', async () => {
    const answer = await bearer(dev, await signToken(rsa, claims(`nopol-${randomUUID()}`)));

    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'Key not authorized: no matching policy', reason: 'no_matching_policy' });
  });

  it('allows a token that names an existing policy in pol', async () => {
    const answer = await bearer(dev, await signToken(rsa, claims(`gold-${randomUUID()}`, { pol: 'gold' })));

    expect(answer.status).toBe(200);
  });
});
