/**
 * JWT identities end to end, as a caller sees them: a real JWKS server
 * (test/support/jwks-server.ts), the local gateway in front of the real authorizer, policies
 * created through the admin port. A thin smoke of each answer — an Allow with its context,
 * each JWT denial's status and message, the log line of a denial, a 500 when the keys cannot
 * be fetched. The rules behind them are tested where they live: claims, times and algorithms
 * in test/unit/core/jwt*.test.ts, JWKS fetching in test/integration/jwt.test.ts and
 * jwt-keys.test.ts, sessions and policies in test/integration/jwt-sessions.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import type { DevServer } from '../../local/dev.ts';
import { createKey } from '../support/dev.ts';
import { scanAll } from '../support/dynamo.ts';
import {
  generateTestKey,
  jwksOf,
  signToken,
  signTokenOfLength,
  startJwksServer,
  unsecuredToken,
  type JwksServer,
  type TestKey,
} from '../support/jwks-server.ts';
import { bearer, call, captureLogs, claims, ISS, nowSeconds, putPolicy, startJwtDev } from '../support/jwt-gateway.ts';

const logEntries = captureLogs();

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
  });
  afterAll(async () => {
    await dev?.stop();
    await jwks?.close();
  });

  describe('valid tokens', () => {
    it.each(['RS256', 'ES256'] as const)(
      "allows a valid %s token, with the sub as principal and the identity's session in the context",
      async (alg) => {
        const sub = `user-${alg}-${randomUUID()}`;

        const answer = await bearer(dev, await signToken(alg === 'RS256' ? rsa : ec, claims(sub)));

        expect(answer.status).toBe(200);
        expect(answer.body.authorizer).toMatchObject({
          principalId: sub,
          keyId: jwtSessionPk(ISS, sub).keyId,
          quotaMax: '-1',
          expires: '0',
        });
      },
    );

    it('reads a valid 9 KiB bearer token as a JWT and allows it (API Gateway lets through 10,240 bytes of request line and headers)', async () => {
      const sub = `large-${randomUUID()}`;
      const token = await signTokenOfLength(ec, claims(sub), 9 * 1024);

      const answer = await bearer(dev, token);

      expect(token.length).toBeGreaterThan(9 * 1024 - 4);
      expect(answer.status).toBe(200);
      expect(answer.body.authorizer).toMatchObject({ principalId: sub });
    });
  });

  describe('denials', () => {
    it('denies a token valid only in 300 s with 403 token_not_yet_valid pointing at clock skew, logging its times next to the server time', async () => {
      const now = nowSeconds();
      const times = { iat: now + 300, nbf: now + 300, exp: now + 3600 };
      const token = await signToken(rsa, claims(`early-${randomUUID()}`, times));

      const sentAt = nowSeconds();
      const answer = await bearer(dev, token);
      const answeredBy = nowSeconds();

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({
        error: 'Key not authorized: token not valid yet (check clock skew)',
        reason: 'token_not_yet_valid',
      });
      const entry = logEntries().find(
        (e) => e.reason === 'token_not_yet_valid' && (e.token as { nbf?: number } | undefined)?.nbf === times.nbf,
      );
      expect(entry).toMatchObject({ message: 'request denied', token: times, serverTime: expect.any(Number) });
      expect(entry!.serverTime).toBeGreaterThanOrEqual(sentAt);
      expect(entry!.serverTime).toBeLessThanOrEqual(answeredBy);
    });

    it('denies an expired token with 403 token_expired, even when the session never expires', async () => {
      const now = nowSeconds();

      const answer = await bearer(dev, await signToken(rsa, claims(`late-${randomUUID()}`, { iat: now - 3600, exp: now - 120 })));

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: 'Key not authorized: token has expired', reason: 'token_expired' });
    });

    it('refuses an unsecured token (alg none) with 403 token_invalid', async () => {
      const answer = await bearer(dev, unsecuredToken(claims(`none-${randomUUID()}`)));

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: 'Key not authorized', reason: 'token_invalid' });
    });

    it('denies a token whose pol names a policy that does not exist with 403 no_matching_policy', async () => {
      const answer = await bearer(dev, await signToken(rsa, claims(`nopolicy-${randomUUID()}`, { pol: 'does-not-exist' })));

      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: 'Key not authorized: no matching policy', reason: 'no_matching_policy' });
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
