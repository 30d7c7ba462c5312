import { describe, expect, it } from 'vitest';
import { RE2JS } from 're2js';
import { checkAccessRights } from '../../../lambdas/core/request/access-rights.ts';
import { parsePolicyInput } from '../../../lambdas/core/policies/policy.ts';
import { SessionInputSchema, type AccessRight } from '../../../lambdas/core/model/session.ts';
import { NEVER_MATCHING_URL, tykFieldName, tykPolicyToInput, tykSessionToInput, tykUrlPattern } from '../../../lambdas/admin/tyk.ts';
import { tykPolicy } from '../../support/tyk.ts';

function mapped(body: unknown): Record<string, unknown> {
  const result = tykSessionToInput(body);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.input;
}

function mappedPolicy(body: unknown): Record<string, unknown> {
  const result = tykPolicyToInput(body);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.input;
}

/**
 * Would Tyk allow `path`? GranularAccessMiddleware (gateway/mw_granular_access.go, default
 * options) compiles `PreparePathRegexp(url, false, false)` — written out by hand here, from
 * internal/httputil/mux.go — as a Go regexp and calls `MatchString` on the path: unanchored.
 * re2js's `test` is Go's `MatchString`.
 */
function tykAllows(prepared: string, path: string): boolean {
  return RE2JS.compile(prepared).test(path);
}

function gatepassAllows(url: string, path: string): boolean {
  return (
    checkAccessRights({ api: { allowedUrls: [{ url: tykUrlPattern(url) }] } }, { apiId: 'api', stage: 's', method: 'GET', path }) ===
    'allowed'
  );
}

describe('tykUrlPattern', () => {
  it.each([
    // [Tyk's url, what PreparePathRegexp makes of it, path, allowed]
    ['/pets', '/pets', '/pets', true],
    ['/pets', '/pets', '/v1/pets/42/owner', true],
    ['/pets', '/pets', '/users', false],
    ['^/pets$', '^/pets$', '/pets', true],
    ['^/pets$', '^/pets$', '/pets/1', false],
    ['^/pets', '^/pets', '/api/pets', false],
    ['/pets$', '/pets$', '/api/pets', true],
    ['/a|/b', '/a|/b', '/x/b/y', true],
    ['^/a|/b$', '^/a|/b$', '/a/zzz', true],
    ['^/a|/b$', '^/a|/b$', '/zzz/b', true],
    ['^/a|/b$', '^/a|/b$', '/zzz/b/c', false],
    ['/pets/[0-9]+', '/pets/[0-9]+', '/pets/abc', false],
    // Wildcards (Tyk 5.6+): `/*` → `/.*`, a `*` segment → `[^/]+`.
    ['/items/*', '/items/.*', '/items/42', true],
    ['/items/*', '/items/.*', '/itemsecret', false],
    ['/api/*/users', '/api/[^/]+/users', '/api/v1/users', true],
    ['/api/*/users', '/api/[^/]+/users', '/api/v1/v2/users', false],
    ['/api/*/users', '/api/[^/]+/users', '/api/users', false],
    // Mux parameters: `{id}` → `([^/]+)`.
    ['/users/{id}/profile', '/users/([^/]+)/profile', '/users/42/profile', true],
    ['/users/{id}/profile', '/users/([^/]+)/profile', '/users/42/43/profile', false],
  ])('allows what Tyk allows: %s against %s → %s', (url, prepared, path, expected) => {
    expect(tykAllows(prepared, path)).toBe(expected);
    expect(gatepassAllows(url, path)).toBe(expected);
  });

  it.each([
    // internal/httputil/mux_test.go TestPreparePathRegexp (with prefix matching off, Tyk adds no `^`).
    ['/users*.', '/users*.'],
    ['/users/.*', '/users/.*'],
    ['/users/{id}', '/users/([^/]+)'],
    ['/users/{id}$', '/users/([^/]+)$'],
    ['/users/{id}/profile/{type:[a-zA-Z]+}', '/users/([^/]+)/profile/([^/]+)'],
    ['/static/{path}/assets/{file}', '/static/([^/]+)/assets/([^/]+)'],
    ['/items/{itemID:[0-9]+}/details/{detail}', '/items/([^/]+)/details/([^/]+)'],
    // Tyk rewrites any balanced braces, a quantifier too; unbalanced ones are left alone.
    ['/v[0-9]{1,2}/pets', '/v[0-9]([^/]+)/pets'],
    ['/v[0-9]{1,2}/pets}', '/v[0-9]{1,2}/pets}'],
    // mux.go: `/*/` first, then `/*`.
    ['/a/*/*/b', '/a/[^/]+/.*/b'],
  ])('converts %s as PreparePathRegexp does (%s), unanchored', (url, prepared) => {
    expect(tykUrlPattern(url)).toBe(`.*(?:${prepared}).*`);
  });

  it('keeps Go named groups, which RE2 understands', () => {
    expect(gatepassAllows('/pets/(?P<id>[0-9]+)', '/pets/42')).toBe(true);
  });
});

describe('tykSessionToInput', () => {
  it("maps Tyk's fields to gatepass's and validates as a gatepass session", () => {
    const input = mapped({
      expires: 1_900_000_000,
      quota_max: 100,
      quota_remaining: 40,
      quota_renewal_rate: 3600,
      quota_renews: 1_800_000_000,
      rate: 10,
      per: 60,
      alias: 'customer',
      tags: ['t'],
      meta_data: { plan: 'gold' },
      apply_policies: ['p1'],
      is_inactive: true,
      access_rights: {
        api1: { api_id: 'api1', api_name: 'Pets', versions: ['Default'], allowed_urls: [{ url: '/pets', methods: ['GET', 'POST'] }] },
      },
    });

    expect(input).toEqual({
      expires: 1_900_000_000,
      quotaMax: 100,
      quotaRemaining: 40,
      quotaRenewalRate: 3600,
      quotaRenews: 1_800_000_000,
      rate: 10,
      per: 60,
      alias: 'customer',
      tags: ['t'],
      metaData: { plan: 'gold' },
      applyPolicies: ['p1'],
      isInactive: true,
      accessRights: { api1: { apiName: 'Pets', versions: ['Default'], allowedUrls: [{ url: '.*(?:/pets).*', methods: ['GET', 'POST'] }] } },
    });
    expect(SessionInputSchema.safeParse(input).success).toBe(true);
  });

  it.each([
    [{ expires: -1 }, { expires: 0 }],
    [{ expires: 0 }, { expires: 0 }],
    [
      { quota_max: -1, quota_remaining: 5 },
      { quotaMax: -1, quotaRemaining: -1 },
    ],
    [{ quota_max: 0 }, { quotaMax: -1 }],
    [
      { quota_max: 10, quota_remaining: 50 },
      { quotaMax: 10, quotaRemaining: 10 },
    ],
    [
      { quota_max: 10, quota_remaining: -3 },
      { quotaMax: 10, quotaRemaining: 0 },
    ],
    [{ quota_renewal_rate: -1 }, { quotaRenewalRate: 0 }],
    [
      { rate: -1, per: -1 },
      { rate: 0, per: 0 },
    ],
    [
      { rate: 0, per: 60 },
      { rate: 0, per: 0 },
    ],
    [
      { rate: 0.5, per: 1 },
      { rate: 1, per: 2 },
    ],
    [
      { rate: 1000.0, per: 1.0 },
      { rate: 1000, per: 1 },
    ],
    [{ apply_policies: null, apply_policy_id: 'legacy' }, { applyPolicies: ['legacy'] }],
    [{ apply_policies: ['new'], apply_policy_id: 'legacy' }, { applyPolicies: ['new'] }],
    [
      { tags: null, meta_data: null, alias: '' },
      { tags: [], metaData: {} },
    ],
    [{ meta_data: { n: 1, b: false, o: { x: [1] }, gone: null } }, { metaData: { n: 1, b: false, o: '{"x":[1]}' } }],
  ])('maps %j like Tyk means it', (tyk, expected) => {
    expect(mapped(tyk)).toMatchObject(expected);
  });

  it('drops allowed_urls entries without methods (they allow nothing in Tyk); an API left with none allows no path', () => {
    const input = mapped({
      access_rights: {
        some: {
          allowed_urls: [
            { url: '/a', methods: [] },
            { url: '/b', methods: ['GET'] },
          ],
        },
        none: { allowed_urls: [{ url: '/a', methods: null }] },
        all: { allowed_urls: null },
      },
    });
    const rights = input.accessRights as Record<string, AccessRight>;

    expect(rights.some!.allowedUrls).toEqual([{ url: '.*(?:/b).*', methods: ['GET'] }]);
    expect(rights.none!.allowedUrls).toEqual([{ url: NEVER_MATCHING_URL }]);
    expect(rights.all).toEqual({});
    expect(checkAccessRights(rights, { apiId: 'none', stage: 'x', method: 'GET', path: '/a' })).toBe('url_not_allowed');
  });

  it('reports the ignored fields that carry a value, per API too, and passes the raw key through', () => {
    const result = tykSessionToInput({
      key: 'raw-key-0000000000001',
      org_id: 'org',
      hmac_enabled: false,
      last_check: 0,
      basic_auth_data: { password: '', hash_type: '' },
      allowance: 1000,
      throttle_interval: 0,
      access_rights: {
        api1: { limit: { rate: 0, per: 0, quota_max: 0, quota_remaining: 0 }, allowance_scope: 'api1', restricted_types: null },
      },
    });

    expect(result).toMatchObject({
      ok: true,
      input: { key: 'raw-key-0000000000001' },
      ignored: ['allowance', 'org_id', 'access_rights.api1.allowance_scope'],
    });
  });

  it("maps a key's own per-API limit (Tyk's access_rights.{api}.limit), reporting its counters as ignored", () => {
    const input = mapped({
      access_rights: {
        limited: { limit: { rate: 5, per: 1, quota_max: 100, quota_renewal_rate: 3600, quota_remaining: 40, quota_renews: 1_800_000_000 } },
        unlimited: { limit: { quota_max: 0, quota_remaining: 3 } },
        zero: { limit: { rate: 0, per: 0, quota_max: 0, quota_renewal_rate: 0 } },
      },
    });
    const result = tykSessionToInput({
      access_rights: { limited: { limit: { rate: 5, per: 1, quota_remaining: 40, quota_renews: 1_800_000_000 } } },
    });

    expect(input.accessRights).toEqual({
      limited: { limit: { rate: 5, per: 1, quotaMax: 100, quotaRenewalRate: 3600 } },
      // Tyk's IsEmpty: a limit with any field set is the API's own — here with no rate and no quota.
      unlimited: { limit: { rate: 0 } },
      zero: {},
    });
    expect(SessionInputSchema.safeParse(input).success).toBe(true);
    expect(result.ok && result.ignored).toEqual([
      'access_rights.limited.limit.quota_remaining',
      'access_rights.limited.limit.quota_renews',
    ]);
  });

  it.each([
    // Tyk 5.12+ exports sessions without zero values (user/session.go `omitzero`;
    // user/session_test.go TestSessionState_ForwardCompatibility_NewCompactFormat: "missing fields default to zero values").
    [{ quota_max: 10 }, { quotaMax: 10, quotaRemaining: 0 }],
    [
      { quota_max: 10, quota_remaining: 4 },
      { quotaMax: 10, quotaRemaining: 4 },
    ],
    [{ quota_remaining: 5 }, { quotaMax: -1, quotaRemaining: -1 }],
    [
      { rate: 100, per: 60, org_id: 'org123' },
      { rate: 100, per: 60, quotaMax: -1, quotaRemaining: -1 },
    ],
  ])('reads an absent field of a compact Tyk session %j as zero, as Tyk does', (tyk, expected) => {
    expect(mapped(tyk)).toMatchObject(expected);
  });

  it('names bad fields by their Tyk names', () => {
    const types = tykSessionToInput({ quota_max: 'x', expires: 1.5, access_rights: [], tags: [1] });
    const values = tykSessionToInput({
      rate: 5,
      per: 0,
      rate_x: 1,
      access_rights: { a: { allowed_urls: [{ url: '(', methods: ['get'] }] } },
    });
    const notObject = tykSessionToInput([]);

    expect(types.ok ? [] : types.problems.map((p) => p.field).sort()).toEqual(['access_rights', 'expires', 'quota_max', 'tags.0']);
    expect(values.ok ? [] : values.problems.map((p) => p.field).sort()).toEqual([
      'access_rights.a.allowed_urls.0.methods.0',
      'access_rights.a.allowed_urls.0.url',
      'per',
    ]);
    expect(notObject.ok ? [] : notObject.problems.map((p) => p.field)).toEqual(['(body)']);
  });
});

describe('tykPolicyToInput', () => {
  it('maps a Tyk policy and validates as a gatepass policy', () => {
    const result = tykPolicyToInput({
      id: 'x',
      name: 'Gold',
      rate: 100,
      per: 1,
      quota_max: -1,
      quota_renewal_rate: 0,
      key_expires_in: -1,
      active: true,
      tags: null,
      meta_data: { a: 'b' },
    });

    expect(result).toMatchObject({ ok: true, ignored: ['id'] });
    const input = result.ok ? result.input : {};
    expect(input).toEqual({
      name: 'Gold',
      rate: 100,
      per: 1,
      quotaMax: -1,
      keyExpiresIn: 0,
      isInactive: false,
      tags: [],
      metaData: { a: 'b' },
    });
    expect(parsePolicyInput(input).success).toBe(true);
  });

  it.each([
    // internal/policy/apply.go: ApplyRateLimits skips an emptyRateLimit (rate == 0 || per == 0);
    // greaterThanInt64 lets any real quota beat quota_max 0; -1 is unlimited.
    [{ rate: 0, per: 0, quota_max: 0, quota_renewal_rate: 0 }, {}],
    [{ rate: 10, per: 0 }, {}],
    [{ rate: -1 }, {}],
    [{ rate: -1, per: -1 }, { rate: 0 }],
    [
      { quota_max: -1, quota_renewal_rate: 3600 },
      { quotaMax: -1, quotaRenewalRate: 3600 },
    ],
    [
      { quota_max: 3, quota_renewal_rate: 5 },
      { quotaMax: 3, quotaRenewalRate: 5 },
    ],
  ])('sets in the policy only the limits Tyk merges: %j', (tyk, limits) => {
    const { rate, per, quotaMax, quotaRenewalRate } = mappedPolicy(tyk);

    expect(JSON.parse(JSON.stringify({ rate, per, quotaMax, quotaRenewalRate }))).toEqual(limits);
  });

  it('maps partitions, ignoring GraphQL complexity', () => {
    const result = tykPolicyToInput({ partitions: { quota: true, rate_limit: false, acl: true, per_api: false, complexity: true } });

    expect(result).toMatchObject({ ok: true, input: { partitions: { quota: true, acl: true } }, ignored: ['partitions.complexity'] });
    expect(tykPolicyToInput({ partitions: {} })).toMatchObject({ ok: true, ignored: [] });
    expect(mappedPolicy({ partitions: { quota: false } })).not.toHaveProperty('partitions');
  });

  it("maps a per-API policy's API limits (Tyk's per_api_and_no_other_partitions)", () => {
    const input = mappedPolicy(tykPolicy('per_api_and_no_other_partitions'));

    expect(input).toMatchObject({
      partitions: { perApi: true },
      accessRights: {
        c: { limit: { rate: 2000, per: 60, quotaMax: -1 } },
        d: { limit: { rate: 20, per: 1, quotaMax: 1000, quotaRenewalRate: 3600 } },
      },
    });
    expect(parsePolicyInput(input).success).toBe(true);
  });

  it('ignores, and reports, API limits in a policy without per_api, as Tyk does', () => {
    const result = tykPolicyToInput({ access_rights: { d: { limit: { rate: 20, per: 1 } } } });

    expect(result).toMatchObject({ ok: true, input: { accessRights: { d: {} } }, ignored: ['access_rights.d.limit'] });
  });

  it('maps a policy Tyk refuses to apply (per_api with other partitions) to one gatepass refuses, by its Tyk name', () => {
    const input = mappedPolicy(tykPolicy('per_api_and_some_partitions'));
    const parsed = parsePolicyInput(input);

    expect(parsed.success ? [] : parsed.error.issues.map((issue) => tykFieldName(issue.path.join('.')))).toEqual(['partitions.per_api']);
  });

  it.each([
    [{ active: false }, true],
    [{ is_inactive: true, active: true }, true],
    [{}, false],
  ])('makes %j inactive: %s', (tyk, inactive) => {
    const result = tykPolicyToInput(tyk);
    expect(result.ok && result.input.isInactive).toBe(inactive);
  });
});

describe('tykFieldName', () => {
  it.each([
    ['quotaMax', 'quota_max'],
    ['metaData.myName', 'meta_data.myName'],
    ['accessRights.apiName.apiName', 'access_rights.apiName.api_name'],
    ['accessRights.a.allowedUrls.0.url', 'access_rights.a.allowed_urls.0.url'],
    ['accessRights.d.limit.quotaMax', 'access_rights.d.limit.quota_max'],
    ['partitions.perApi', 'partitions.per_api'],
    ['alias', 'alias'],
    ['(body)', '(body)'],
  ])('names %s as %s', (field, tyk) => {
    expect(tykFieldName(field)).toBe(tyk);
  });
});
