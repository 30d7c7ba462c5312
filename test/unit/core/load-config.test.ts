import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import { ConfigError } from '../../../lambdas/core/model/errors.ts';
import { loadConfig, parsePlainConfig } from '../../../lambdas/core/model/load-config.ts';

/** Configs the schema accepts, without `jwt`: every field valid or absent. */
const validPlain = fc.record(
  {
    tableName: fc.string({ minLength: 3, maxLength: 255 }),
    apiKeyHeader: fc.stringMatching(/^[A-Za-z0-9-]{1,128}$/),
    plugins: fc.array(fc.string({ minLength: 1 }), { maxLength: 3 }),
    hookTimeoutMs: fc.integer({ min: 1, max: 30_000 }),
    policyCacheSeconds: fc.integer({ min: 0, max: 3600 }),
    resultsCacheTtl: fc.integer({ min: 0, max: 3600 }),
    httpApiResponse: fc.constantFrom('simple', 'iam'),
    sessionRetentionSeconds: fc.maxSafeNat(),
  },
  { requiredKeys: [] },
);

const FIELDS = [
  'tableName',
  'apiKeyHeader',
  'plugins',
  'hookTimeoutMs',
  'policyCacheSeconds',
  'resultsCacheTtl',
  'httpApiResponse',
  'sessionRetentionSeconds',
] as const;
/** Values at and across each field's limits, of the right type and of others. */
const edgeValue = fc.oneof(
  fc.constantFrom(null, true, false, '', 'simple', 'iam', 'SIMPLE', 'x y', 'é', 'X_Key', [], [''], [1], {}),
  fc.constantFrom(0, -0, 1, -1, 1.5, 1000, 3600, 3601, 30_000, 30_001, 2 ** 53 - 1, 2 ** 53, 1e300),
  fc.constantFrom(2, 3, 128, 129, 255, 256).map((length) => 'a'.repeat(length)),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const JWT = { secret: 's'.repeat(32), algorithms: ['HS256'] };
/** A valid config, often with one field (a known one, `jwt` or an unknown one) set to an edge value. */
const configLike = fc
  .tuple(validPlain, fc.constantFrom(...FIELDS, 'jwt', 'extra'), edgeValue, fc.boolean())
  .map(([base, field, value, change]) => (change ? { ...base, [field]: field === 'jwt' ? JWT : value } : base));

describe('parsePlainConfig', () => {
  it('accepts only what the schema accepts, and returns what the schema returns', () => {
    fc.assert(
      fc.property(configLike, (config) => {
        const json = JSON.stringify(config);
        const plain = parsePlainConfig(json);
        const schema = ConfigSchema.safeParse(JSON.parse(json));
        if (plain !== undefined) expect(schema).toEqual({ success: true, data: plain });
        // Without `jwt`, nothing the schema accepts is left to it.
        if (!('jwt' in config) && schema.success) expect(plain).toEqual(schema.data);
      }),
      { numRuns: 5000 },
    );
  });

  it('accepts every valid config without jwt', () => {
    fc.assert(
      fc.property(validPlain, (config) => {
        const json = JSON.stringify(config);
        expect(parsePlainConfig(json)).toEqual(ConfigSchema.parse(JSON.parse(json)));
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['a jwt section', '{"jwt":{}}'],
    ['an unknown field', '{"tableName":"sessions","tablename":"x"}'],
    ['a null where a default would apply', '{"tableName":null}'],
    ['a __proto__ key', '{"__proto__":{"tableName":"x"}}'],
    ['an array', '[]'],
    ['not JSON', '{tableName:'],
    ['nothing', undefined],
    ['a fractional number', '{"hookTimeoutMs":1.5}'],
    ['an integer past 2^53', '{"sessionRetentionSeconds":9007199254740992}'],
  ])('leaves %s to the schema', (_case, json) => {
    expect(parsePlainConfig(json)).toBeUndefined();
  });

  it('returns a plugins list of its own', () => {
    const config = parsePlainConfig('{"plugins":["renew"]}');

    expect(config?.plugins).toEqual(['renew']);
  });
});

describe('loadConfig', () => {
  it('validates a config with jwt with the schema', async () => {
    const config = await loadConfig(JSON.stringify({ jwt: { secret: 's'.repeat(32), algorithms: ['HS256'] } }));

    expect(config.jwt).toMatchObject({ algorithms: ['HS256'], identityClaim: 'sub', requireExp: true });
  });

  it('fails with the schema own ConfigError, naming every bad field', async () => {
    const error = await loadConfig('{"hookTimeoutMs":0,"tableName":"ab"}').catch((reason: unknown) => reason);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    expect((error as ConfigError).message).toMatch(/^GATEPASS_CONFIG is invalid: .*tableName.*hookTimeoutMs|hookTimeoutMs.*tableName/);
  });

  it('says when GATEPASS_CONFIG is not set', async () => {
    await expect(loadConfig(undefined)).rejects.toThrow('GATEPASS_CONFIG is not set');
  });
});
