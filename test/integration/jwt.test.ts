/**
 * JWT verification with keys from a real JWKS endpoint over HTTP (test/support/jwks-server.ts):
 * keys found by `kid`, fetched once and refetched for rotation, kept while the endpoint is
 * down, and a fault (never a verdict) when there is nothing to verify with. Token times use
 * an injected clock; only the JWKS cooldown runs on real time (jose's own timer). The rules a
 * token must meet — claims, times, algorithms — are in test/unit/core/jwt.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtConfigSchema, type JwtConfig } from '../../lambdas/core/model/config.ts';
import {
  createJwtVerifier,
  JwksUnavailableError,
  type JwtVerdict,
  type JwtVerifier,
  type JwtVerifierOptions,
} from '../../lambdas/core/jwt/jwt.ts';
import { NOW } from '../support/fixtures.ts';
import {
  generateTestKey,
  jwksOf,
  signHmacToken,
  signToken,
  startJwksServer,
  type JwksOutage,
  type JwksServer,
  type TestKey,
} from '../support/jwks-server.ts';

const ISS = 'https://issuer.test/';
const AUD = 'gatepass-api';
const clock = (): number => NOW * 1000;

let server: JwksServer;
let rsa: TestKey;
let ec: TestKey;

beforeAll(async () => {
  [server, rsa, ec] = await Promise.all([startJwksServer(), generateTestKey('RS256'), generateTestKey('ES256')]);
  server.setKeys(jwksOf(rsa, ec));
});

afterAll(async () => {
  await server.close();
});

function jwksConfig(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return JwtConfigSchema.parse({ jwksUrl: server.url, algorithms: ['RS256', 'ES256'], issuer: ISS, audience: AUD, ...overrides });
}

function verifier(jwt: JwtConfig = jwksConfig(), options: JwtVerifierOptions = {}): JwtVerifier {
  return createJwtVerifier(jwt, { clock, ...options });
}

function claims(overrides: JWTPayload = {}): JWTPayload {
  return { iss: ISS, aud: AUD, sub: 'user-1', iat: NOW, exp: NOW + 3600, ...overrides };
}

function denial(verdict: JwtVerdict): { reason: string; detail: string } {
  if (verdict.ok) throw new Error('expected a denial, got ok');
  return verdict;
}

describe('JWT verification with a JWKS URL', () => {
  let shared: JwtVerifier; // one per cold start, as in the handler

  beforeAll(() => {
    shared = verifier();
  });

  describe('valid tokens', () => {
    it.each(['RS256', 'ES256'] as const)('accepts a valid %s token with its identity and policies', async (alg) => {
      const key = alg === 'RS256' ? rsa : ec;

      const verdict = await shared.verify(await signToken(key, claims({ pol: ['gold', 'beta'] })));

      expect(verdict).toMatchObject({
        ok: true,
        identity: 'user-1',
        issuer: ISS,
        policies: ['gold', 'beta'],
        claims: { sub: 'user-1', aud: AUD },
        times: { iat: NOW, exp: NOW + 3600 },
      });
    });
  });

  describe('refused tokens', () => {
    it.each([
      ['PEM', () => rsa.publicPem],
      ['JWK JSON', () => JSON.stringify(rsa.publicJwk)],
    ])('refuses HS256 MAC-ed with the published RSA key as %s (algorithm confusion)', async (_, publicKeyText) => {
      const forged = await signHmacToken(publicKeyText(), claims());

      const verdict = await shared.verify(forged);

      expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('ERR_JOSE_ALG_NOT_ALLOWED') });
    });

    it('refuses a token whose kid is not in the JWKS', async () => {
      const stranger = await generateTestKey('RS256', 'unknown-kid');

      const verdict = await shared.verify(await signToken(stranger, claims()));

      expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('ERR_JWKS_NO_MATCHING_KEY') });
    });

    it('refuses a token signed by another key under a known kid', async () => {
      const impostor = await generateTestKey('RS256', rsa.kid);

      const verdict = await shared.verify(await signToken(impostor, claims()));

      expect(denial(verdict).detail).toContain('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    });
  });
});

describe('JWKS fetching', () => {
  let own: JwksServer;

  beforeAll(async () => {
    own = await startJwksServer();
  });

  afterAll(async () => {
    await own.close();
  });

  function ownVerifier(options: JwtVerifierOptions = {}): JwtVerifier {
    return verifier(jwksConfig({ jwksUrl: own.url }), options);
  }

  it('fetches the JWKS once for many verifications, concurrent ones included', async () => {
    own.up();
    own.setKeys(jwksOf(rsa, ec));
    const before = own.requests();
    const jwt = ownVerifier();
    const tokens = await Promise.all(
      [rsa, ec].flatMap((key) => Array.from({ length: 10 }, (_, i) => signToken(key, claims({ sub: `u${i}` })))),
    );

    const first = await Promise.all(tokens.map((token) => jwt.verify(token)));
    const second = await Promise.all(tokens.map((token) => jwt.verify(token)));

    expect([...first, ...second].every((verdict) => verdict.ok)).toBe(true);
    expect(own.requests() - before).toBe(1);
  });

  it('picks up a rotated key once it is served and the cooldown has passed', async () => {
    own.up();
    own.setKeys(jwksOf(rsa));
    const rotated = await generateTestKey('RS256', 'rotated');
    const jwt = ownVerifier({ jwksCooldownMs: 200 });
    expect((await jwt.verify(await signToken(rsa, claims()))).ok).toBe(true);

    const early = await jwt.verify(await signToken(rotated, claims()));
    own.setKeys(jwksOf(rsa, rotated));
    await sleep(250);
    const late = await jwt.verify(await signToken(rotated, claims()));

    expect(denial(early)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('ERR_JWKS_NO_MATCHING_KEY') });
    expect(late).toMatchObject({ ok: true, identity: 'user-1' });
    expect((await jwt.verify(await signToken(rsa, claims()))).ok).toBe(true); // old key still served
  });

  it('does not refetch for an unknown kid during the cooldown', async () => {
    own.up();
    own.setKeys(jwksOf(rsa));
    const rotated = await generateTestKey('RS256', 'rotated-2');
    const jwt = ownVerifier({ jwksCooldownMs: 60_000 });
    expect((await jwt.verify(await signToken(rsa, claims()))).ok).toBe(true);
    const fetched = own.requests();
    own.setKeys(jwksOf(rsa, rotated));

    const verdict = await jwt.verify(await signToken(rotated, claims()));

    expect(denial(verdict).reason).toBe('token_invalid');
    expect(own.requests()).toBe(fetched);
  });

  it('keeps verifying with keys already fetched while the JWKS server is down', async () => {
    own.up();
    own.setKeys(jwksOf(rsa, ec));
    const jwt = ownVerifier();
    expect((await jwt.verify(await signToken(rsa, claims()))).ok).toBe(true);

    own.down('reset');
    const verdicts = [await jwt.verify(await signToken(rsa, claims())), await jwt.verify(await signToken(ec, claims()))];

    expect(verdicts.map((verdict) => verdict.ok)).toEqual([true, true]);
  });

  it.each<[JwksOutage, JwtVerifierOptions]>([
    ['reset', {}],
    ['unavailable', {}],
    ['invalid', {}],
    ['hang', { jwksTimeoutMs: 200 }],
  ])('throws JwksUnavailableError, not a verdict, when nothing is cached and the server is down (%s)', async (outage, options) => {
    own.down(outage);
    const jwt = ownVerifier(options);
    const token = await signToken(rsa, claims());

    const result = jwt.verify(token);

    await expect(result).rejects.toBeInstanceOf(JwksUnavailableError);
    await expect(result).rejects.toMatchObject({ code: 'ERR_JWKS_UNAVAILABLE' });
    own.up();
    own.setKeys(jwksOf(rsa));
    expect((await jwt.verify(token)).ok).toBe(true); // a failed fetch is not cached
  });

  it('throws JwksUnavailableError when nothing listens at the JWKS URL', async () => {
    const gone = await startJwksServer();
    await gone.close();
    const jwt = verifier(jwksConfig({ jwksUrl: gone.url }));

    await expect(jwt.verify(await signToken(rsa, claims()))).rejects.toThrow(/unavailable: fetch failed/);
  });

  it('throws JwksUnavailableError for an unknown kid when the refetch it triggers fails', async () => {
    own.up();
    own.setKeys(jwksOf(rsa));
    const jwt = ownVerifier({ jwksCooldownMs: 0 });
    expect((await jwt.verify(await signToken(rsa, claims()))).ok).toBe(true);
    own.down('unavailable');

    await expect(jwt.verify(await signToken(ec, claims()))).rejects.toBeInstanceOf(JwksUnavailableError);
    own.up();
  });
});
