import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/core/model/errors.ts';
import { parseConfig } from '../../../lambdas/core/model/config.ts';

/** Parses and returns the ConfigError thrown (fails the test when none is). */
function configError(json: string | undefined): ConfigError {
  try {
    parseConfig(json);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    return error as ConfigError;
  }
  throw new Error('parseConfig accepted an invalid config');
}

const SECRET = 's'.repeat(32);

describe('parseConfig', () => {
  it('applies the defaults to an empty object', () => {
    expect(parseConfig('{}')).toEqual({
      tableName: 'gatepass-sessions',
      apiKeyHeader: 'Authorization',
      plugins: [],
      hookTimeoutMs: 1000,
      policyCacheSeconds: 10,
      resultsCacheTtl: 0,
      httpApiResponse: 'simple',
      sessionRetentionSeconds: 2_592_000,
    });
  });

  it('applies the JWT defaults', () => {
    const config = parseConfig(JSON.stringify({ jwt: { secret: SECRET, algorithms: ['HS256'] } }));

    expect(config.jwt).toMatchObject({
      clockTolerance: 60,
      identityClaim: 'sub',
      policyClaim: 'pol',
      defaultPolicies: [],
      requireExp: true,
    });
    expect(config.jwt).not.toHaveProperty('tokenUse');
    expect(config.jwt).not.toHaveProperty('clientIds');
  });

  it('accepts the Cognito settings: tokenUse and clientIds, one id or a list', () => {
    const jwt = (extra: object) =>
      JSON.stringify({ jwt: { jwksUrl: 'https://issuer.example/jwks.json', algorithms: ['RS256'], ...extra } });

    expect(parseConfig(jwt({ tokenUse: 'access', clientIds: ['a', 'b'] })).jwt).toMatchObject({
      tokenUse: 'access',
      clientIds: ['a', 'b'],
    });
    expect(parseConfig(jwt({ tokenUse: 'id', clientIds: 'a' })).jwt).toMatchObject({ tokenUse: 'id', clientIds: 'a' });
  });

  it('refuses a token_use other than id or access, an empty client id list and a non-boolean requireExp', () => {
    const error = configError(
      JSON.stringify({ jwt: { secret: SECRET, algorithms: ['HS256'], tokenUse: 'refresh', clientIds: [], requireExp: 'no' } }),
    );

    for (const field of ['jwt.tokenUse', 'jwt.clientIds', 'jwt.requireExp']) expect(error.message).toContain(field);
  });

  it('refuses clientIds together with audience (Cognito access tokens carry no aud)', () => {
    const error = configError(JSON.stringify({ jwt: { secret: SECRET, algorithms: ['HS256'], audience: 'api', clientIds: ['a'] } }));

    expect(error.message).toMatch(/jwt\.clientIds: use clientIds \(Cognito\) or audience, not both/);
  });

  it('refuses a missing or blank config', () => {
    configError(undefined);
    configError('  ');
  });

  it('refuses a config that is not JSON', () => {
    configError('{tableName: sessions}');
  });

  it('names every bad field in one message', () => {
    const error = configError(
      JSON.stringify({
        tableName: 'ab',
        apiKeyHeader: 'Bad Header',
        hookTimeoutMs: 0,
        policyCacheSeconds: -1,
        httpApiResponse: 'xml',
        unknownSetting: true,
      }),
    );

    for (const field of ['tableName', 'apiKeyHeader', 'hookTimeoutMs', 'policyCacheSeconds', 'httpApiResponse', 'unknownSetting']) {
      expect(error.message).toContain(field);
    }
  });

  it('refuses the none algorithm', () => {
    const error = configError(JSON.stringify({ jwt: { secret: SECRET, algorithms: ['none'] } }));

    expect(error.message).toContain('jwt.algorithms.0');
  });

  it('refuses an empty algorithm list', () => {
    const error = configError(JSON.stringify({ jwt: { secret: SECRET, algorithms: [] } }));

    expect(error.message).toContain('jwt.algorithms');
  });

  it('accepts exactly one key source', () => {
    expect(() =>
      parseConfig(JSON.stringify({ jwt: { jwksUrl: 'https://issuer.example/jwks.json', algorithms: ['RS256'] } })),
    ).not.toThrow();
    expect(() => parseConfig(JSON.stringify({ jwt: { publicKeyPem: '-----BEGIN PUBLIC KEY-----', algorithms: ['RS256'] } }))).not.toThrow();
    expect(() => parseConfig(JSON.stringify({ jwt: { secret: SECRET, algorithms: ['HS256'] } }))).not.toThrow();
  });

  it('refuses a JWT config with no key source', () => {
    const error = configError(JSON.stringify({ jwt: { algorithms: ['RS256'] } }));

    expect(error.message).toContain('jwt');
    expect(error.message).toMatch(/jwksUrl/);
  });

  it('refuses a JWT config with two key sources', () => {
    const error = configError(
      JSON.stringify({ jwt: { jwksUrl: 'https://issuer.example/jwks.json', secret: SECRET, algorithms: ['RS256'] } }),
    );

    expect(error.message).toMatch(/jwksUrl/);
  });

  it('refuses an HMAC secret shorter than 32 characters', () => {
    const error = configError(JSON.stringify({ jwt: { secret: 'short', algorithms: ['HS256'] } }));

    expect(error.message).toContain('jwt.secret');
  });

  it('names a missing key source together with a bad algorithm', () => {
    const error = configError(JSON.stringify({ jwt: { algorithms: ['none'] } }));

    expect(error.message).toContain('jwt.algorithms.0');
    expect(error.message).toMatch(/jwksUrl/);
  });
});
