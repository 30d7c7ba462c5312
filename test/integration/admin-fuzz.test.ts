import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminHandler, type AdminHandler } from '../../lambdas/admin/handler.ts';
import type { HttpResult } from '../../lambdas/admin/http.ts';
import { ConfigSchema } from '../../lambdas/core/model/config.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { adminEvent } from '../support/admin-events.ts';
import { createTestTable, scanAll, type TestTable } from '../support/dynamo.ts';

/**
 * Property-based fuzzing of the admin bodies, in-process against the admin handler on a
 * DynamoDB Local table: whatever the body, the answer is never a 500, an error has the
 * contract's shape, and a rejected request leaves every item exactly as it was.
 */

/** `FUZZ_SCALE=10 npx vitest run test/integration/admin-fuzz.test.ts` for a deeper run. */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

const STATUSES = new Set([200, 201, 204, 400, 404, 405, 409, 413, 415]);
/** Mostly the body's own content type, sometimes another (JSON of the other dialect, text, none). */
const contentType = (own: string, ...others: string[]): fc.Arbitrary<string> =>
  mostly(fc.constantFrom(own, `${own}; charset=utf-8`), fc.constantFrom('text/plain', '', ...others), 10);

// --- generators -------------------------------------------------------------------------

/** Mostly `valid`, now and then `invalid`: most bodies pass, so that the write paths run too. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>, weight = 15): fc.Arbitrary<T | U> =>
  fc.oneof({ weight, arbitrary: valid }, { weight: 1, arbitrary: invalid });

/** Mostly plausible values, sometimes anything at all: both sides of every validation. */
const maybe = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => mostly(valid, fc.anything({ maxDepth: 2 }), 40);

/** Whole numbers in range, mostly; sometimes any integer, a fraction, or a number DynamoDB cannot store. */
const int = (min: number, max: number) =>
  mostly(
    fc.integer({ min, max }),
    fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 0, 1e200, -1e130, 5e-324, 2 ** 53, Number.MAX_SAFE_INTEGER)),
    40,
  );

/**
 * A `per` for a `rate` given without one (else most such bodies would fail the same
 * cross-field check), and now and then a field no schema knows.
 */
const withStray = (body: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .tuple(body, mostly(fc.constant(null), fc.tuple(fc.string({ maxLength: 6 }), fc.anything({ maxDepth: 1 })), 15))
    .map(([value, stray]) => {
      const paired = typeof value.rate === 'number' && value.rate > 0 && value.per === undefined ? { ...value, per: 30 } : value;
      return stray === null ? paired : { ...paired, [stray[0]]: stray[1] };
    });

const method = mostly(
  fc.constantFrom('GET', 'POST', 'DELETE'),
  fc.oneof(fc.constantFrom('get', 'G T', ''), fc.string({ maxLength: 6 })),
  40,
);
const urlPattern = mostly(
  fc.constantFrom('/pets', '/pets/[0-9]+', '^/a|/b$', '.*', '/x{2}'),
  fc.oneof(fc.constantFrom('(', '[', ''), fc.string({ maxLength: 12 })),
  40,
);
const apiId = mostly(fc.constantFrom('api1', 'local', 'a-b'), fc.string({ maxLength: 8 }), 40);
const name = mostly(fc.constantFrom('plan', 'tier', 'x_y'), fc.string({ maxLength: 8 }), 40);

const accessRight = fc.record(
  {
    apiName: maybe(fc.string({ maxLength: 10 })),
    versions: maybe(fc.array(mostly(fc.constantFrom('Default', 'prod'), fc.string({ maxLength: 5 }), 40), { maxLength: 3 })),
    allowedUrls: maybe(
      fc.array(fc.record({ url: maybe(urlPattern), methods: maybe(fc.array(method, { maxLength: 3 })) }, { requiredKeys: ['url'] }), {
        maxLength: 3,
      }),
    ),
  },
  { requiredKeys: [] },
);

const metaValue = mostly(
  fc.oneof(fc.string({ maxLength: 10 }), int(-5, 5), fc.boolean()),
  fc.oneof(fc.constantFrom(1e200, -1e-200, 0.5), fc.constant(null), fc.object({ maxDepth: 1 })),
  40,
);

const sessionBody = withStray(
  fc.record(
    {
      alias: maybe(mostly(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('', null))),
      expires: maybe(int(0, 2_000_000_000)),
      quotaMax: maybe(int(-1, 100)),
      quotaRemaining: maybe(int(-1, 100)),
      quotaRenewalRate: maybe(int(0, 86_400)),
      quotaRenews: maybe(int(0, 2_000_000_000)),
      rate: maybe(int(0, 50)),
      per: maybe(int(0, 60)),
      accessRights: maybe(fc.dictionary(apiId, accessRight, { maxKeys: 3 })),
      applyPolicies: maybe(fc.array(mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''), 40), { maxLength: 3 })),
      metaData: maybe(fc.dictionary(name, metaValue, { maxKeys: 3 })),
      tags: maybe(fc.array(mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''), 40), { maxLength: 3 })),
      isInactive: maybe(fc.boolean()),
      // Read-only fields a client may echo back from a GET: ignored.
      keyId: mostly(fc.constant('e'.repeat(64)), fc.anything({ maxDepth: 1 }), 4),
      version: mostly(fc.nat(), fc.anything({ maxDepth: 1 }), 4),
    },
    { requiredKeys: [] },
  ),
);

const tykSessionBody = withStray(
  fc.record(
    {
      expires: maybe(int(-1, 2_000_000_000)),
      quota_max: maybe(int(-1, 100)),
      quota_remaining: maybe(int(-1, 100)),
      quota_renewal_rate: maybe(int(-1, 86_400)),
      quota_renews: maybe(int(0, 2_000_000_000)),
      rate: maybe(fc.oneof(int(-1, 50), fc.constantFrom(0.5, 2.25))),
      per: maybe(fc.oneof(int(-1, 60), fc.constantFrom(0.5, 1.5))),
      access_rights: maybe(
        fc.dictionary(
          apiId,
          fc.record(
            {
              api_id: maybe(apiId),
              api_name: maybe(fc.string({ maxLength: 8 })),
              versions: maybe(fc.array(mostly(fc.constantFrom('Default', 'v1'), fc.string({ maxLength: 5 }), 40), { maxLength: 2 })),
              allowed_urls: maybe(
                fc.array(
                  fc.record({ url: maybe(urlPattern), methods: maybe(fc.array(method, { maxLength: 2 })) }, { requiredKeys: ['url'] }),
                  { maxLength: 2 },
                ),
              ),
              limit: fc.anything({ maxDepth: 1 }),
            },
            { requiredKeys: [] },
          ),
          { maxKeys: 2 },
        ),
      ),
      meta_data: maybe(fc.dictionary(name, metaValue, { maxKeys: 3 })),
      tags: maybe(
        fc.oneof(fc.constant(null), fc.array(mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''), 40), { maxLength: 2 })),
      ),
      apply_policies: maybe(
        fc.oneof(fc.constant(null), fc.array(mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''), 40), { maxLength: 2 })),
      ),
      apply_policy_id: maybe(fc.string({ maxLength: 6 })),
      alias: maybe(fc.string({ maxLength: 10 })),
      is_inactive: maybe(fc.boolean()),
      org_id: fc.string({ maxLength: 6 }),
      key: maybe(mostly(fc.stringMatching(/^[\x21-\x7e]{16,30}$/), fc.string({ maxLength: 20 }), 4)),
    },
    { requiredKeys: [] },
  ),
);

const policyBody = withStray(
  fc.record(
    {
      name: maybe(mostly(fc.string({ minLength: 1, maxLength: 12 }), fc.constant(''), 40)),
      rate: maybe(int(0, 50)),
      per: maybe(int(0, 60)),
      quotaMax: maybe(int(-1, 100)),
      quotaRenewalRate: maybe(int(0, 86_400)),
      accessRights: maybe(fc.dictionary(apiId, accessRight, { maxKeys: 2 })),
      keyExpiresIn: maybe(int(0, 86_400)),
      tags: maybe(fc.array(mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''), 40), { maxLength: 3 })),
      metaData: maybe(fc.dictionary(name, metaValue, { maxKeys: 3 })),
      isInactive: maybe(fc.boolean()),
    },
    { requiredKeys: [] },
  ),
);

const tykPolicyBody = withStray(
  fc.record(
    {
      name: maybe(fc.string({ maxLength: 12 })),
      rate: maybe(int(-1, 50)),
      per: maybe(int(-1, 60)),
      quota_max: maybe(int(-1, 100)),
      quota_renewal_rate: maybe(int(-1, 86_400)),
      key_expires_in: maybe(int(-1, 86_400)),
      active: maybe(fc.boolean()),
      tags: maybe(fc.array(mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constant(''), 40), { maxLength: 2 })),
      _id: fc.string({ maxLength: 6 }),
    },
    { requiredKeys: [] },
  ),
);

/** The raw body text: JSON of the object, or now and then not JSON, or a JSON non-object. */
const raw = (object: fc.Arbitrary<unknown>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 18, arbitrary: object.map((value) => JSON.stringify(value)) },
    {
      weight: 1,
      arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('{"alias":', '', 'null', '[]', '"x"', '{"__proto__":{"a":1}}')),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)) },
  );

// --- harness ----------------------------------------------------------------------------

describe('admin API bodies, fuzzed', { timeout: 300_000 }, () => {
  let table: TestTable;
  let doc: DynamoDBDocumentClient;
  let handler: AdminHandler;
  let keyId: string;

  beforeAll(async () => {
    table = await createTestTable('admin-fuzz');
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    handler = createAdminHandler({
      // A retention past any generated expiry: DynamoDB Local's TTL would otherwise delete
      // sessions the fuzzer made long expired, in the middle of a before/after comparison.
      config: ConfigSchema.parse({ tableName: table.tableName, sessionRetentionSeconds: 4_000_000_000 }),
      client: doc,
      logger: new Logger({ serviceName: 'admin-fuzz', logLevel: 'SILENT' }),
    });
    const created = await send('POST', '/keys', JSON.stringify({ alias: 'fuzzed', quotaMax: 10, rate: 5, per: 60 }), 'application/json');
    keyId = (JSON.parse(String(created.body)) as { keyId: string }).keyId;
  });
  afterAll(async () => {
    doc?.destroy();
    await table?.drop();
  });

  function send(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string,
    headers: Record<string, string> = {},
  ): Promise<HttpResult> {
    const event = adminEvent(method, path, { ...(contentType ? { 'content-type': contentType } : {}), ...headers }, body);
    return handler(event, lambdaContext('gatepass-admin'));
  }

  async function snapshot(): Promise<Map<string, string>> {
    const items = await scanAll(table.tableName, table.client);
    return new Map(items.map((item) => [String(item.pk), JSON.stringify(item, Object.keys(item).sort())]));
  }

  /** Checks one answer; returns the table as it now is. */
  async function check(result: HttpResult, before: Map<string, string>): Promise<Map<string, string>> {
    expect(STATUSES.has(result.statusCode), `status ${result.statusCode}: ${String(result.body)}`).toBe(true);
    const after = await snapshot();
    if (result.statusCode >= 400) {
      const { error } = JSON.parse(String(result.body)) as {
        error: { code: string; message: string; details?: Array<{ field: string; message: string }> };
      };
      expect(typeof error.code).toBe('string');
      expect(typeof error.message).toBe('string');
      if (error.code === 'invalid_fields') {
        expect(error.details!.length).toBeGreaterThan(0);
        for (const detail of error.details!) expect(typeof detail.field === 'string' && typeof detail.message === 'string').toBe(true);
      }
      expect(after).toEqual(before);
    }
    return after;
  }

  /** How often each status came back: the write paths must be exercised, not only the 400s. */
  const seen = new Map<number, number>();
  const count = (status: number): void => {
    seen.set(status, (seen.get(status) ?? 0) + 1);
  };
  const total = (): number => [...seen.values()].reduce((a, b) => a + b, 0);

  it('POST /keys: never a 500, never a partial write; an accepted body creates exactly its key', async () => {
    let state = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 3, arbitrary: fc.tuple(raw(sessionBody), contentType('application/json', 'application/vnd.tyk.session+json')) },
          { weight: 2, arbitrary: fc.tuple(raw(tykSessionBody), contentType('application/vnd.tyk.session+json', 'application/json')) },
        ),
        async ([body, type]) => {
          const result = await send('POST', '/keys', body, type);
          count(result.statusCode);
          const after = await check(result, state);
          if (result.statusCode === 201) {
            const created = (JSON.parse(String(result.body)) as { keyId: string }).keyId;
            // The key, and its record (`#past`: the version it was created at, see past-lives.ts).
            expect([...after.keys()].filter((pk) => !state.has(pk)).sort()).toEqual([`key#${created}`, `key#${created}#past`]);
            expect((await send('DELETE', `/keys/${created}`, undefined, '')).statusCode).toBe(204);
            // The delete leaves the record of the life's last version (see past-lives.ts), and nothing else.
            const past = `key#${created}#past`;
            const afterDelete = await snapshot();
            expect(JSON.parse(afterDelete.get(past) ?? '{}')).toMatchObject({ version: expect.any(Number) });
            expect(new Map([...afterDelete].filter(([pk]) => pk !== past))).toEqual(new Map([...state].filter(([pk]) => pk !== past)));
            state = afterDelete;
          } else {
            state = after;
          }
        },
      ),
      { numRuns: 450 * SCALE },
    );
  });

  it('PATCH and PUT /keys/{keyId}: never a 500, never a partial write', async () => {
    let state = await snapshot();
    const ifMatch = mostly(fc.constant(undefined), fc.constantFrom('1', '999', '"2"', 'W/"3"', 'abc', ''), 3);
    await fc.assert(
      fc.asyncProperty(
        raw(sessionBody),
        fc.constantFrom('PATCH', 'PUT'),
        contentType('application/json'),
        ifMatch,
        async (body, method, type, version) => {
          const result = await send(method, `/keys/${keyId}`, body, type, version === undefined ? {} : { 'if-match': version });
          count(result.statusCode);
          state = await check(result, state);
        },
      ),
      { numRuns: 350 * SCALE },
    );
  });

  it('PUT /policies/{id}: never a 500, never a partial write', async () => {
    let state = await snapshot();
    const id = mostly(
      fc.constantFrom('fz-a', 'fz-b', 'fz.c'),
      fc.string({ maxLength: 6 }).map((s) => encodeURIComponent(s)),
      6,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 3, arbitrary: fc.tuple(raw(policyBody), contentType('application/json', 'application/vnd.tyk.policy+json')) },
          { weight: 2, arbitrary: fc.tuple(raw(tykPolicyBody), contentType('application/vnd.tyk.policy+json', 'application/json')) },
        ),
        id,
        fc.oneof(fc.constant({}), fc.constant({ 'if-none-match': '*' }), fc.constant({ 'if-match': '1' })),
        async ([body, type], policyId, headers) => {
          const result = await send('PUT', `/policies/${policyId}`, body, type, headers);
          count(result.statusCode);
          state = await check(result, state);
        },
      ),
      { numRuns: 350 * SCALE },
    );
  });

  it('ran over 1000 cases, a fair share of them accepted', () => {
    const accepted = (seen.get(200) ?? 0) + (seen.get(201) ?? 0);
    expect(total()).toBeGreaterThanOrEqual(1000);
    expect(accepted / total()).toBeGreaterThan(0.1);
    expect(seen.get(400) ?? 0).toBeGreaterThan(100);
    expect(seen.get(415) ?? 0).toBeGreaterThan(10);
    expect(seen.get(409) ?? 0).toBeGreaterThan(10);
  });
});
