/**
 * The verification rules of `createJwtVerifier`, on HMAC-signed tokens (no key to fetch):
 * algorithms, signature, issuer and audience, identity and policy claims, times and their
 * tolerance, the length bound, the checks of a secret's configuration. Keys from a JWKS endpoint are in
 * test/integration/jwt.test.ts, a PEM key in jwt-pem.test.ts, what a caller sees over HTTP in
 * test/e2e/jwt.test.ts.
 */
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwtConfigSchema, type JwtConfig } from '../../../lambdas/core/model/config.ts';
import { ConfigError, GatepassError } from '../../../lambdas/core/model/errors.ts';
import { createJwtVerifier, JwksUnavailableError, MAX_TOKEN_LENGTH, type JwtVerdict } from '../../../lambdas/core/jwt/jwt.ts';
import { NOW } from '../../support/fixtures.ts';
import { generateTestKey, signHmacToken, signToken, unsecuredToken, withPayload } from '../../support/jwks-server.ts';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const ISS = 'https://issuer.test/';
const clock = (): number => NOW * 1000;

function config(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return JwtConfigSchema.parse({ secret: SECRET, algorithms: ['HS256'], issuer: ISS, ...overrides });
}

function claims(overrides: JWTPayload = {}): JWTPayload {
  return { iss: ISS, sub: 'user-1', iat: NOW, exp: NOW + 3600, ...overrides };
}

async function verify(token: string, jwt: JwtConfig = config(), now = clock): Promise<JwtVerdict> {
  return createJwtVerifier(jwt, { clock: now }).verify(token);
}

function denial(verdict: JwtVerdict): { reason: string; detail: string } {
  if (verdict.ok) throw new Error('expected a denial, got ok');
  return verdict;
}

describe('createJwtVerifier with an HMAC secret', () => {
  it('accepts a token MAC-ed with the secret and reads identity, issuer and times', async () => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ pol: 'gold' })));

    expect(verdict).toMatchObject({
      ok: true,
      identity: 'user-1',
      issuer: ISS,
      policies: ['gold'],
      times: { iat: NOW, exp: NOW + 3600 },
    });
  });

  it('refuses a token MAC-ed with another secret', async () => {
    const verdict = await verify(await signHmacToken('another-secret-of-at-least-32-characters', claims()));

    expect(denial(verdict)).toMatchObject({
      reason: 'token_invalid',
      detail: expect.stringContaining('ERR_JWS_SIGNATURE_VERIFICATION_FAILED'),
    });
  });

  it('refuses an algorithm that is not pinned, even with the right secret', async () => {
    const verdict = await verify(await signHmacToken(SECRET, claims(), 'HS512'));

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('ERR_JOSE_ALG_NOT_ALLOWED') });
  });

  it('refuses an RS256 token', async () => {
    const key = await generateTestKey('RS256');

    const verdict = await verify(await signToken(key, claims()));

    expect(denial(verdict).detail).toContain('ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('refuses an unsecured token (alg none)', async () => {
    const verdict = await verify(unsecuredToken(claims()));

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('ERR_JOSE_ALG_NOT_ALLOWED') });
  });

  it('relies on jose refusing alg none even without an algorithm list', async () => {
    await expect(jwtVerify(unsecuredToken(claims()), new TextEncoder().encode(SECRET))).rejects.toMatchObject({
      code: 'ERR_JOSE_NOT_SUPPORTED',
      message: expect.stringContaining('alg none'),
    });
  });

  it('refuses a token with an unrecognised critical header extension', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', crit: ['x-custom'], 'x-custom': 1 })
      .sign(new TextEncoder().encode(SECRET), { crit: { 'x-custom': true } });

    const verdict = await verify(token);

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('ERR_JOSE_NOT_SUPPORTED') });
  });

  it('refuses a token whose payload was changed after signing, reporting the times it claims', async () => {
    const token = await signHmacToken(SECRET, claims({ pol: 'free' }));

    const verdict = await verify(withPayload(token, claims({ pol: 'admin' })));

    expect(denial(verdict)).toMatchObject({
      reason: 'token_invalid',
      detail: expect.stringContaining('ERR_JWS_SIGNATURE_VERIFICATION_FAILED'),
    });
    expect(verdict.times).toEqual({ iat: NOW, exp: NOW + 3600 });
  });

  it.each([
    ['issuer', { iss: 'https://evil.test/' }, '"iss"'],
    ['audience', { aud: 'another-api' }, '"aud"'],
  ])('refuses a token with the wrong %s', async (_, overrides, claim) => {
    const verdict = await verify(
      await signHmacToken(SECRET, claims({ aud: 'gatepass-api', ...overrides })),
      config({ audience: 'gatepass-api' }),
    );

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining(claim) });
    expect(denial(verdict).detail).toContain('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });
});

describe('identity and policies', () => {
  it.each([
    ['a policy id', 'gold', ['gold']],
    ['a list of policy ids', ['gold', 'beta'], ['gold', 'beta']],
    ['an empty list', [], []],
    ['absent', undefined, undefined],
  ])('reads the policy claim when it is %s', async (_, pol, expected) => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ pol })));

    expect(verdict).toMatchObject({ ok: true, policies: expected });
  });

  it.each([
    ['a number', 7],
    ['a list with a non-string', ['gold', 7]],
    ['an empty string', ''],
    ['an object', { id: 'gold' }],
    ['a list of 33 ids (a session holds at most 32 policies)', Array.from({ length: 33 }, (_, i) => `p${i}`)],
    ['an id no policy can have', ['gold', 'no spaces/or slashes']],
  ])('refuses a policy claim that is %s', async (_, pol) => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ pol })));

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('"pol"') });
  });

  it('reads identity and policies from the configured claims', async () => {
    const jwt = config({ identityClaim: 'email', policyClaim: 'plans' });

    const verdict = await verify(await signHmacToken(SECRET, claims({ email: 'a@b.test', plans: ['pro'] })), jwt);

    expect(verdict).toMatchObject({ ok: true, identity: 'a@b.test', policies: ['pro'] });
  });

  it('converts a numeric identity to a string', async () => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ sub: undefined, uid: 42 })), config({ identityClaim: 'uid' }));

    expect(verdict).toMatchObject({ ok: true, identity: '42' });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a boolean', true],
    ['a list', ['user-1']],
  ])('refuses a token whose identity claim is %s', async (_, uid) => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ uid })), config({ identityClaim: 'uid' }));

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: 'no identity claim "uid"' });
  });

  it('refuses a token without sub, the default identity claim', async () => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ sub: undefined })));

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: 'no identity claim "sub"' });
  });

  it('reports an empty issuer when the token has none and none is required', async () => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ iss: undefined })), config({ issuer: undefined }));

    expect(verdict).toMatchObject({ ok: true, issuer: '' });
  });
});

describe('times and clock tolerance', () => {
  it('judges the token at the injected clock', async () => {
    const token = await signHmacToken(SECRET, claims({ exp: NOW + 10 }));

    expect((await verify(token)).ok).toBe(true);
    expect(denial(await verify(token, config(), () => (NOW + 71) * 1000)).reason).toBe('token_expired');
  });

  it.each([
    ['expired 30 s ago', { exp: NOW - 30 }, 'allowed'],
    ["issued and valid from 30 s ahead (the issuer's clock is ahead)", { iat: NOW + 30, nbf: NOW + 30 }, 'allowed'],
    ['expired 120 s ago', { exp: NOW - 120 }, 'token_expired'],
    ['valid only from now + 300 s', { nbf: NOW + 300 }, 'token_not_yet_valid'],
  ])('with the default 60 s tolerance, judges a token %s as %s, reporting its times', async (_, times, outcome) => {
    const verdict = await verify(await signHmacToken(SECRET, claims(times)));

    expect(verdict.ok ? 'allowed' : verdict.reason).toBe(outcome);
    expect(verdict.times).toMatchObject(times);
  });

  it('applies the configured tolerance to exp, nbf and iat (here 0)', async () => {
    const strict = config({ clockTolerance: 0 });

    expect(denial(await verify(await signHmacToken(SECRET, claims({ exp: NOW })), strict)).reason).toBe('token_expired');
    expect(denial(await verify(await signHmacToken(SECRET, claims({ nbf: NOW + 1 })), strict)).reason).toBe('token_not_yet_valid');
    expect(denial(await verify(await signHmacToken(SECRET, claims({ iat: NOW + 1 })), strict)).reason).toBe('token_not_yet_valid');
  });

  it('accepts iat up to exactly now + tolerance, and not one second more', async () => {
    expect((await verify(await signHmacToken(SECRET, claims({ iat: NOW + 60 })))).ok).toBe(true);

    const verdict = await verify(await signHmacToken(SECRET, claims({ iat: NOW + 61 })));

    expect(denial(verdict)).toMatchObject({ reason: 'token_not_yet_valid', detail: expect.stringContaining('clock skew') });
  });

  // RFC 7519 §4.1.4 makes exp optional; a token without one would be valid forever.
  it('refuses a token without exp by default, saying exp is missing', async () => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ exp: undefined })));

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('missing required "exp" claim') });
  });

  it('accepts a token without exp when requireExp is false, and still checks an exp that is there', async () => {
    const relaxed = config({ requireExp: false });

    expect(await verify(await signHmacToken(SECRET, claims({ exp: undefined })), relaxed)).toMatchObject({ ok: true, times: { iat: NOW } });
    expect(denial(await verify(await signHmacToken(SECRET, claims({ exp: NOW - 120 })), relaxed)).reason).toBe('token_expired');
  });

  it('treats a non-numeric nbf as an invalid token, not an early one', async () => {
    const verdict = await verify(await signHmacToken(SECRET, claims({ nbf: 'soon' as unknown as number })));

    expect(denial(verdict)).toMatchObject({ reason: 'token_invalid', detail: expect.stringContaining('"nbf"') });
  });

  it('fills times on a denial from the unverified payload', async () => {
    const verdict = await verify(await signHmacToken('another-secret-of-at-least-32-characters', claims({ nbf: NOW - 5 })));

    expect(verdict.times).toEqual({ iat: NOW, nbf: NOW - 5, exp: NOW + 3600 });
  });

  it('leaves times empty when the token cannot be decoded', async () => {
    const verdict = await verify('not-a-jwt');

    expect(verdict).toEqual({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('ERR_JWS_INVALID'), times: {} });
  });

  it.each(['a.b.c', ''])('refuses the non-JWT string %j as invalid, with no times', async (token) => {
    expect(await verify(token)).toMatchObject({ ok: false, reason: 'token_invalid', times: {} });
  });
});

describe('token length', () => {
  /** A token MAC-ed with the secret, padded through a claim to exactly `length` characters. */
  async function tokenOfLength(length: number): Promise<string> {
    const bare = (await signHmacToken(SECRET, claims({ pad: '' }))).length;
    const estimate = Math.floor(((length - bare) * 3) / 4); // 3 characters of pad make 4 of base64url
    for (let pad = estimate - 3; pad <= estimate + 3; pad++) {
      const token = await signHmacToken(SECRET, claims({ pad: 'x'.repeat(pad) }));
      if (token.length === length) return token;
    }
    throw new Error(`no token of exactly ${length} characters`);
  }

  // API Gateway refuses a request line plus headers over 10,240 bytes: no real token is longer.
  it(`accepts a token of exactly ${MAX_TOKEN_LENGTH} bytes`, async () => {
    const verdict = await verify(await tokenOfLength(MAX_TOKEN_LENGTH));

    expect(verdict.ok).toBe(true);
  });

  it('refuses a longer token as invalid without decoding it', async () => {
    const token = await tokenOfLength(MAX_TOKEN_LENGTH + 1);

    const verdict = await verify(token);

    expect(verdict).toEqual({
      ok: false,
      reason: 'token_invalid',
      detail: expect.stringContaining(`${MAX_TOKEN_LENGTH}-byte bound`),
      times: {},
    });
  });
});

describe('configuration checks', () => {
  it('refuses a secret with an asymmetric algorithm', () => {
    expect(() => createJwtVerifier(config({ algorithms: ['HS256', 'RS256'] }))).toThrow(ConfigError);
  });

  it('refuses an HMAC algorithm with a JWKS URL (the public keys would become MAC secrets)', () => {
    const jwt = config({ secret: undefined, jwksUrl: 'https://issuer.test/jwks.json', algorithms: ['RS256', 'HS256'] });

    expect(() => createJwtVerifier(jwt)).toThrow(/HS256 need a secret/);
  });
});

describe('JwksUnavailableError', () => {
  it('is a GatepassError with code ERR_JWKS_UNAVAILABLE', () => {
    const error = new JwksUnavailableError('down', { cause: new Error('ECONNREFUSED') });

    expect(error).toBeInstanceOf(GatepassError);
    expect(error).toMatchObject({ code: 'ERR_JWKS_UNAVAILABLE', name: 'JwksUnavailableError' });
  });
});
