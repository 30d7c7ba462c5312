/**
 * JWT verification with a PEM public key (`jwt.publicKeyPem`): the key is imported once, for
 * each pinned algorithm, when the verifier is created; a key that cannot serve them is refused
 * there, and an HMAC token MAC-ed with the public key's text is refused (algorithm confusion).
 */
import { generateKeyPairSync } from 'node:crypto';
import { exportPKCS8, importPKCS8, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJwtVerifier, type JwtVerifier } from '../../../lambdas/core/jwt/jwt.ts';
import { JwtConfigSchema } from '../../../lambdas/core/model/config.ts';
import { ConfigError } from '../../../lambdas/core/model/errors.ts';
import { NOW } from '../../support/fixtures.ts';
import { generateTestKey, signHmacToken, signToken, type TestKey } from '../../support/jwks-server.ts';

const ISS = 'https://issuer.test/';

let rsa: TestKey;
let ec: TestKey;

beforeAll(async () => {
  [rsa, ec] = await Promise.all([generateTestKey('RS256'), generateTestKey('ES256')]);
});

function pemVerifier(publicKeyPem: string, algorithms: string[]): JwtVerifier {
  return createJwtVerifier(JwtConfigSchema.parse({ publicKeyPem, algorithms }), { clock: () => NOW * 1000 });
}

function claims(overrides: JWTPayload = {}): JWTPayload {
  return { iss: ISS, sub: 'user-1', iat: NOW, exp: NOW + 3600, ...overrides };
}

describe('JWT verification with a PEM public key', () => {
  it('accepts a token signed by the matching private key, and refuses one signed by another key', async () => {
    const pem = pemVerifier(ec.publicPem, ['ES256']);

    expect(await pem.verify(await signToken(ec, claims({ pol: 'gold' })))).toMatchObject({
      ok: true,
      identity: 'user-1',
      policies: ['gold'],
    });
    expect(await pem.verify(await signToken(await generateTestKey('ES256'), claims()))).toMatchObject({
      ok: false,
      reason: 'token_invalid',
    });
  });

  it('verifies each pinned algorithm with the one key (RS256 and PS256)', async () => {
    const pss = await importPKCS8(await exportPKCS8(rsa.privateKey), 'PS256');
    const psToken = await new SignJWT(claims()).setProtectedHeader({ alg: 'PS256' }).sign(pss);
    const pem = pemVerifier(rsa.publicPem, ['RS256', 'PS256']);

    expect((await pem.verify(await signToken(rsa, claims()))).ok).toBe(true);
    expect((await pem.verify(psToken)).ok).toBe(true);
    expect((await pem.verify(await signToken(rsa, claims()))).ok).toBe(true); // cached import
  });

  it.each([
    ['PEM', () => rsa.publicPem],
    ['JWK JSON', () => JSON.stringify(rsa.publicJwk)],
  ])('refuses HS256 MAC-ed with the RSA public key as %s (algorithm confusion)', async (_, publicKeyText) => {
    const forged = await signHmacToken(publicKeyText(), claims());

    const verdict = await pemVerifier(rsa.publicPem, ['RS256']).verify(forged);

    expect(verdict).toMatchObject({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('ERR_JOSE_ALG_NOT_ALLOWED') });
  });
});

describe('PEM configuration checks', () => {
  it('refuses a PEM that is not a public key', () => {
    expect(() => pemVerifier('not a pem', ['RS256'])).toThrow(ConfigError);
  });

  it('refuses a PEM whose key kind does not fit a pinned algorithm', () => {
    expect(() => pemVerifier(rsa.publicPem, ['RS256', 'ES256'])).toThrow(/\(rsa\) cannot verify ES256/);
  });

  it('refuses a P-256 PEM pinned to ES384 (the curve does not fit)', () => {
    expect(() => pemVerifier(ec.publicPem, ['ES384'])).toThrow(ConfigError);
  });

  it('refuses an RSA PEM under 2048 bits', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });

    expect(() => pemVerifier(publicKey.export({ type: 'spki', format: 'pem' }).toString(), ['RS256'])).toThrow(/2048 bits/);
  });
});
