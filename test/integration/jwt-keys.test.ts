/**
 * Published keys the verifier cannot use, from a real JWKS endpoint over HTTP
 * (test/support/jwks-server.ts): an RSA key under 2048 bits is the issuer's problem and
 * refuses the token (RFC 7518 §3.3: RS256 keys MUST be 2048 bits or larger); any other
 * failure to use a key stays a fault, so that the request fails closed.
 */
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwtVerifier, JwksUnavailableError, type JwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import { JwtConfigSchema } from '../../lambdas/core/model/config.ts';
import { NOW, recordingLog, type RecordingLog } from '../support/fixtures.ts';
import {
  generateShortRsaKey,
  generateTestKey,
  jwksOf,
  signToken,
  startJwksServer,
  type JwksServer,
  type ShortRsaKey,
  type TestKey,
} from '../support/jwks-server.ts';

const ISS = 'https://issuer.test/';

let server: JwksServer;
let rsa: TestKey;
let ec: TestKey;
let short: ShortRsaKey;
let log: RecordingLog;
let verifier: JwtVerifier;

beforeAll(async () => {
  [server, rsa, ec] = await Promise.all([startJwksServer(), generateTestKey('RS256'), generateTestKey('ES256')]);
  short = generateShortRsaKey(1024, 'short-kid');
  const broken = { ...ec.publicJwk, kid: 'broken', y: ec.publicJwk.x }; // not a point of P-256
  server.setKeys({ keys: [...jwksOf(rsa, ec).keys, short.publicJwk, broken] });
  log = recordingLog();
  const config = JwtConfigSchema.parse({ jwksUrl: server.url, algorithms: ['RS256', 'ES256'], issuer: ISS });
  verifier = createJwtVerifier(config, { clock: () => NOW * 1000, log });
});

afterAll(async () => {
  await server.close();
});

function claims(): JWTPayload {
  return { iss: ISS, sub: 'user-1', iat: NOW, exp: NOW + 3600 };
}

describe('a JWKS that publishes a 1024-bit RSA key', () => {
  it('refuses a token whose kid names it as token_invalid, where jose alone would throw a TypeError', async () => {
    const verdict = await verifier.verify(short.sign(claims()));

    expect(verdict).toMatchObject({ ok: false, reason: 'token_invalid', detail: expect.stringContaining('"short-kid" has 1024 bits') });
  });

  it("refuses every token naming that kid, even one signed by a good key, and warns once, as the issuer's problem, naming the JWKS", async () => {
    const verdicts = [
      await verifier.verify(short.sign(claims())),
      await verifier.verify(short.sign({ ...claims(), sub: 'user-2' })),
      await verifier.verify(await signToken(rsa, claims(), { kid: 'short-kid' })),
    ];

    expect(verdicts.map((v) => (v.ok ? 'ok' : v.reason))).toEqual(['token_invalid', 'token_invalid', 'token_invalid']);
    expect(log.at('warn')).toEqual([
      expect.objectContaining({
        fields: expect.objectContaining({ kid: 'short-kid', source: server.url, detail: expect.stringContaining('1024 bits') }),
      }),
    ]);
  });

  it('still accepts tokens signed by its 2048-bit key (the smallest allowed)', async () => {
    expect(await verifier.verify(await signToken(rsa, claims()))).toMatchObject({ ok: true, identity: 'user-1' });
  });

  it('still throws (fails closed) for a published key that cannot be imported at all', async () => {
    await expect(verifier.verify(await signToken(ec, claims(), { kid: 'broken' }))).rejects.toBeInstanceOf(JwksUnavailableError);
  });
});
