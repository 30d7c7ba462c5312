/**
 * The claim rules jose leaves to gatepass (RFC 7519 types, the identity, Cognito's
 * token_use and client ids), through a verifier on HMAC-signed tokens so that each case
 * is a real, validly signed token.
 */
import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { type CognitoSettings, cognitoProblem } from '../../../lambdas/core/jwt/cognito.ts';
import { createJwtVerifier, type JwtVerdict } from '../../../lambdas/core/jwt/jwt.ts';
import { JwtConfigSchema, type JwtConfig } from '../../../lambdas/core/model/config.ts';
import { NOW } from '../../support/fixtures.ts';
import { signHmacToken } from '../../support/jwks-server.ts';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const ISS = 'https://issuer.test/';

function config(overrides: Record<string, unknown> = {}): JwtConfig {
  return JwtConfigSchema.parse({ secret: SECRET, algorithms: ['HS256'], issuer: ISS, ...overrides });
}

async function verify(payload: JWTPayload, jwt: JwtConfig = config()): Promise<JwtVerdict> {
  const token = await signHmacToken(SECRET, { iss: ISS, sub: 'user-1', iat: NOW, exp: NOW + 3600, ...payload });
  return createJwtVerifier(jwt, { clock: () => NOW * 1000 }).verify(token);
}

describe('sub as the identity (RFC 7519 §4.1.2: sub is a string)', () => {
  it.each([42, 0, -1])('refuses the numeric sub %d', async (sub) => {
    const verdict = await verify({ sub: sub as unknown as string });

    expect(verdict).toMatchObject({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('"sub" must be a string') });
  });

  it('accepts the string "42", so a numeric 42 can never share its session', async () => {
    expect(await verify({ sub: '42' })).toMatchObject({ ok: true, identity: '42' });
  });
});

describe('a custom identity claim (lenient, as documented)', () => {
  const uid = config({ identityClaim: 'uid' });

  it.each([
    [42, '42'],
    [-7, '-7'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    ['42', '42'],
  ])('reads %j as the identity %j: the number 42 and the string "42" are one identity', async (value, identity) => {
    expect(await verify({ uid: value }, uid)).toMatchObject({ ok: true, identity });
  });

  it.each([
    ['beyond 2^53 − 1 (JSON parsing may have rounded it)', 2 ** 53 + 2],
    ['a fraction', 1.5],
  ])('refuses a number %s', async (_, value) => {
    const verdict = await verify({ uid: value }, uid);

    expect(verdict).toMatchObject({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('"uid" is a number') });
  });

  it('does not check the type of sub when sub is not the identity', async () => {
    expect(await verify({ sub: 42 as unknown as string, uid: 'u-1' }, uid)).toMatchObject({ ok: true, identity: 'u-1' });
  });
});

describe('aud and iss types (RFC 7519 §4.1.3 and §4.1.1)', () => {
  it.each([
    ['an audience configured', config({ audience: 'api' })],
    ['no audience configured', config()],
  ])('refuses an aud array with a non-string member with %s', async (_, jwt) => {
    const verdict = await verify({ aud: ['api', 7] as unknown as string[] }, jwt);

    expect(verdict).toMatchObject({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('RFC 7519 §4.1.3') });
  });

  it.each([7, null, { id: 'api' }])('refuses the aud %j', async (aud) => {
    expect(await verify({ aud: aud as unknown as string })).toMatchObject({ ok: false, reason: 'token_invalid' });
  });

  it.each(['api', ['api', 'other'], []])('accepts the aud %j when no audience is configured', async (aud) => {
    expect(await verify({ aud })).toMatchObject({ ok: true });
  });

  it('refuses a numeric iss when no issuer is configured', async () => {
    const verdict = await verify({ iss: 5 as unknown as string }, config({ issuer: undefined }));

    expect(verdict).toMatchObject({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('"iss" must be a string') });
  });
});

// aws-jwt-verify's validateCognitoJwtFields: token_use must be "id" or "access" (and the
// pinned one); the client id is an id token's aud and an access token's client_id, a string.
describe('cognitoProblem', () => {
  const access = { tokenUse: 'access', clientIds: ['client-a'] } as const;

  it('checks nothing when neither tokenUse nor clientIds is configured', () => {
    expect(cognitoProblem({}, {})).toBeUndefined();
  });

  it.each<[string, JWTPayload, CognitoSettings]>([
    ['an access token of a configured client', { token_use: 'access', client_id: 'client-a' }, access],
    ['an id token whose aud is a configured client', { token_use: 'id', aud: 'client-a' }, { clientIds: ['client-b', 'client-a'] }],
    ['an access token when only tokenUse is pinned', { token_use: 'access' }, { tokenUse: 'access' }],
    ['a client id given as one string', { token_use: 'access', client_id: 'client-a' }, { clientIds: 'client-a' }],
  ])('accepts %s', (_, claims, settings) => {
    expect(cognitoProblem(claims, settings)).toBeUndefined();
  });

  it.each<[string, JWTPayload, CognitoSettings, string]>([
    ['a missing token_use', { client_id: 'client-a' }, access, '"token_use" must be "id" or "access", not missing'],
    ['a refresh token_use', { token_use: 'refresh', client_id: 'client-a' }, { clientIds: ['client-a'] }, 'not "refresh"'],
    ['an id token when access is pinned', { token_use: 'id', aud: 'client-a' }, access, 'not the configured "access"'],
    ['an access token of another client', { token_use: 'access', client_id: 'client-b' }, access, '"client_id" "client-b" is not one'],
    ['an access token with its client only in aud', { token_use: 'access', aud: 'client-a' }, access, '"client_id" of an access token'],
    ['an id token of another client', { token_use: 'id', aud: 'client-b' }, { clientIds: ['client-a'] }, '"aud" "client-b" is not one'],
    [
      'an id token whose aud is a list',
      { token_use: 'id', aud: ['client-a'] },
      { clientIds: ['client-a'] },
      '"aud" of an id token must be a client id',
    ],
  ])('refuses %s', (_, claims, settings, detail) => {
    expect(cognitoProblem(claims, settings)).toContain(detail);
  });

  it('refuses a verified token that fails the Cognito settings as token_invalid', async () => {
    const verdict = await verify({ token_use: 'access', client_id: 'client-b' }, config(access));

    expect(verdict).toMatchObject({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('client_id') });
  });
});
