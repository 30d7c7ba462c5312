/**
 * What a token must hold, end to end: the local gateway in front of the real authorizer,
 * a real JWKS server (test/support/jwks-server.ts). Each case names the RFC 7519 section
 * or the aws-jwt-verify behaviour it follows; the finer cases are in
 * test/unit/core/jwt.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TOKEN_LENGTH } from '../../lambdas/core/jwt/jwt.ts';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import type { DevServer } from '../../local/dev.ts';
import {
  generateShortRsaKey,
  generateTestKey,
  jwksOf,
  signToken,
  signTokenOfLength,
  startJwksServer,
  type JwksServer,
  type ShortRsaKey,
  type TestKey,
} from '../support/jwks-server.ts';
import { AUD, bearer, captureLogs, claims, ISS, nowSeconds, putPolicy, startJwtDev } from '../support/jwt-gateway.ts';

const logEntries = captureLogs();
const INVALID = { status: 403, body: { error: 'Key not authorized', reason: 'token_invalid' } };

let jwks: JwksServer;
let rsa: TestKey;
let ec: TestKey;
let short: ShortRsaKey;

beforeAll(async () => {
  [jwks, rsa, ec] = await Promise.all([startJwksServer(), generateTestKey('RS256'), generateTestKey('ES256')]);
  short = generateShortRsaKey(1024);
  // An EC key whose point is not on its curve: it cannot even be imported.
  const broken = { ...ec.publicJwk, kid: 'broken', y: ec.publicJwk.x };
  jwks.setKeys({ keys: [...jwksOf(rsa, ec).keys, short.publicJwk, broken] });
});
afterAll(async () => {
  await jwks?.close();
});

/** A gateway with this JWT config (over the defaults of startJwtDev) and a `free` policy. */
function stack(jwt: Record<string, unknown>): () => DevServer {
  let dev: DevServer;
  beforeAll(async () => {
    dev = await startJwtDev(jwks, { defaultPolicies: ['free'], ...jwt });
    await putPolicy(dev, 'free', {});
  });
  afterAll(async () => {
    await dev?.stop();
  });
  return () => dev;
}

describe('with the default settings (issuer and audience pinned)', () => {
  const dev = stack({});

  it('refuses a token without exp with token_invalid, logging that exp is missing (RFC 7519 §4.1.4 makes it optional; requireExp defaults to true)', async () => {
    const answer = await bearer(dev(), await signToken(rsa, claims(`no-exp-${randomUUID()}`, { exp: undefined })));

    expect(answer).toMatchObject(INVALID);
    // The only token without exp this stack sees, so the one entry saying so is this one's.
    expect(
      logEntries().filter((e) => e.reason === 'token_invalid' && String(e.detail).includes('missing required "exp" claim')),
    ).toHaveLength(1);
  });

  it('refuses a numeric sub and accepts the string "42" (RFC 7519 §4.1.2: sub is a string)', async () => {
    const numeric = await bearer(dev(), await signToken(rsa, claims('', { sub: 42 as unknown as string })));
    const text = await bearer(dev(), await signToken(rsa, claims('42')));

    expect(numeric).toMatchObject(INVALID);
    expect(text.status).toBe(200);
    expect(text.body.authorizer).toMatchObject({ principalId: '42', keyId: jwtSessionPk(ISS, '42').keyId });
  });

  it('refuses an aud array with a non-string member, even though it names the audience (RFC 7519 §4.1.3)', async () => {
    const answer = await bearer(dev(), await signToken(rsa, claims(`aud-${randomUUID()}`, { aud: [AUD, 7 as unknown as string] })));

    expect(answer).toMatchObject(INVALID);
  });

  it('reads a valid 9 KiB bearer token as a JWT and allows it (API Gateway lets through 10,240 bytes of request line and headers)', async () => {
    const sub = `large-${randomUUID()}`;
    const token = await signTokenOfLength(ec, claims(sub), 9 * 1024);

    const answer = await bearer(dev(), token);

    expect(token.length).toBeGreaterThan(9 * 1024 - 4);
    expect(answer.status).toBe(200);
    expect(answer.body.authorizer).toMatchObject({ principalId: sub });
  });

  it(`refuses a validly signed token over ${MAX_TOKEN_LENGTH} bytes with token_invalid, not key_not_found nor a fault`, async () => {
    const token = await signTokenOfLength(rsa, claims(`huge-${randomUUID()}`), MAX_TOKEN_LENGTH + 4);

    const answer = await bearer(dev(), token);

    expect(token.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    expect(answer).toMatchObject(INVALID);
  });

  it("refuses a token whose kid names a 1024-bit RSA key with token_invalid, warning once about that kid as the issuer's problem", async () => {
    const answers = [
      await bearer(dev(), short.sign(claims(`short-1-${randomUUID()}`))),
      await bearer(dev(), short.sign(claims(`short-2-${randomUUID()}`))),
    ];
    const valid = await bearer(dev(), await signToken(rsa, claims(`after-short-${randomUUID()}`)));

    expect(answers).toMatchObject([INVALID, INVALID]);
    expect(valid.status).toBe(200);
    const warnings = logEntries().filter((e) => e.level === 'WARN' && e.kid === short.kid);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: expect.stringContaining('unusable'), detail: expect.stringContaining('1024 bits') });
  });

  it('still fails closed (500) when a published key cannot even be imported: only a too-short RSA key is a denial', async () => {
    const answer = await bearer(dev(), await signToken(ec, claims(`broken-${randomUUID()}`), { kid: 'broken' }));

    expect(answer).toMatchObject({ status: 500, body: { error: 'Authorizer failure', reason: 'authorizer_failure' } });
  });
});

describe('with requireExp false, identityClaim uid and no audience', () => {
  const dev = stack({ requireExp: false, identityClaim: 'uid', audience: undefined });

  it('allows a token without exp', async () => {
    const answer = await bearer(dev(), await signToken(rsa, claims('s', { exp: undefined, uid: `forever-${randomUUID()}` })));

    expect(answer.status).toBe(200);
  });

  it('refuses an aud array with a non-string member though no audience is configured (RFC 7519 §4.1.3)', async () => {
    const uid = `aud-${randomUUID()}`;

    const bad = await bearer(dev(), await signToken(rsa, claims('s', { uid, aud: ['some-api', 7 as unknown as string] })));
    const good = await bearer(dev(), await signToken(rsa, claims('s', { uid, aud: ['some-api', 'other-api'] })));

    expect([bad, good.status]).toMatchObject([INVALID, 200]);
  });

  it('reads a numeric uid 42 and the string "42" as one identity, with one session (as documented)', async () => {
    const uid = 4_200_000 + Math.floor(Math.random() * 1_000_000);

    const numeric = await bearer(dev(), await signToken(rsa, claims('s', { uid })));
    const text = await bearer(dev(), await signToken(ec, claims('s', { uid: String(uid) })));

    const session = { principalId: String(uid), keyId: jwtSessionPk(ISS, String(uid)).keyId };
    expect([numeric.status, text.status]).toEqual([200, 200]);
    expect(numeric.body.authorizer).toMatchObject(session);
    expect(text.body.authorizer).toMatchObject(session);
  });

  it('refuses a numeric uid that JSON cannot hold exactly (beyond 2^53 − 1), as two users could collide', async () => {
    const answer = await bearer(dev(), await signToken(rsa, claims('s', { uid: 2 ** 53 + 2 })));

    expect(answer).toMatchObject(INVALID);
  });
});

/** Cognito token claims (no `aud` on access tokens, `client_id` instead). */
function cognito(use: string | undefined, extra: Record<string, unknown>): Record<string, unknown> {
  const now = nowSeconds();
  return { iss: ISS, sub: `user-${randomUUID()}`, token_use: use, iat: now, exp: now + 3600, ...extra };
}

describe('Cognito access tokens: tokenUse "access", clientIds ["client-a"] (aws-jwt-verify tokenUse and clientId)', () => {
  const dev = stack({ audience: undefined, tokenUse: 'access', clientIds: ['client-a'] });

  it('allows an access token whose client_id is configured', async () => {
    const answer = await bearer(
      dev(),
      await signToken(rsa, cognito('access', { client_id: 'client-a', scope: 'aws.cognito.signin.user.admin' })),
    );

    expect(answer.status).toBe(200);
  });

  it.each([
    ['an access token of another client', cognito('access', { client_id: 'client-b' })],
    ['an access token without client_id', cognito('access', {})],
    ['an id token of the client (token_use pinned to access)', cognito('id', { aud: 'client-a' })],
    ['a token without token_use', cognito(undefined, { client_id: 'client-a' })],
  ])('refuses %s with token_invalid', async (_, payload) => {
    expect(await bearer(dev(), await signToken(rsa, payload))).toMatchObject(INVALID);
  });
});

describe('Cognito id and access tokens: clientIds ["client-a"] only (aws-jwt-verify: id token → aud, access token → client_id)', () => {
  const dev = stack({ audience: undefined, clientIds: ['client-a'] });

  it('allows an id token whose aud is the client and an access token whose client_id is', async () => {
    const id = await bearer(dev(), await signToken(rsa, cognito('id', { aud: 'client-a' })));
    const access = await bearer(dev(), await signToken(rsa, cognito('access', { client_id: 'client-a' })));

    expect([id.status, access.status]).toEqual([200, 200]);
  });

  it.each([
    ['an id token for another client', cognito('id', { aud: 'client-b', client_id: 'client-a' })],
    ['an access token naming the client only in aud', cognito('access', { aud: 'client-a', client_id: 'client-b' })],
    ['a refresh token_use', cognito('refresh', { aud: 'client-a', client_id: 'client-a' })],
  ])('refuses %s with token_invalid', async (_, payload) => {
    expect(await bearer(dev(), await signToken(rsa, payload))).toMatchObject(INVALID);
  });
});
