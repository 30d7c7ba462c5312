import { describe, expect, it } from 'vitest';
import { checkAccessRights } from '../../../lambdas/core/request/access-rights.ts';
import { parsePolicyInput } from '../../../lambdas/core/policies/policy.ts';
import { SessionInputSchema, type AccessRight } from '../../../lambdas/core/model/session.ts';
import { NEVER_MATCHING_URL, tykFieldName, tykPolicyToInput, tykSessionToInput, tykUrlPattern } from '../../../lambdas/admin/tyk.ts';

function mapped(body: unknown): Record<string, unknown> {
  const result = tykSessionToInput(body);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.input;
}

/** Would Tyk's GranularAccessMiddleware (Go `regexp.MatchString`, unanchored) allow `path`? */
function tykAllows(url: string, path: string): boolean {
  return new RegExp(url).test(path);
}

describe('tykUrlPattern', () => {
  it.each([
    ['/pets', '/pets', true],
    ['/pets', '/v1/pets/42/owner', true],
    ['/pets', '/users', false],
    ['^/pets$', '/pets', true],
    ['^/pets$', '/pets/1', false],
    ['^/pets', '/api/pets', false],
    ['/pets$', '/api/pets', true],
    ['/a|/b', '/x/b/y', true],
    ['^/a|/b$', '/a/zzz', true],
    ['^/a|/b$', '/zzz/b', true],
    ['^/a|/b$', '/zzz/b/c', false],
    ['/pets/[0-9]+', '/pets/abc', false],
  ])('matches what Tyk matched: %s against %s → %s', (url, path, expected) => {
    const pattern = tykUrlPattern(url);
    const gatepass = checkAccessRights({ api: { allowedUrls: [{ url: pattern }] } }, { apiId: 'api', stage: 's', method: 'GET', path });

    expect(tykAllows(url, path)).toBe(expected);
    expect(gatepass === 'allowed').toBe(expected);
  });

  it('turns mux parameters into one path segment, as Tyk 5 does, and leaves quantifiers alone', () => {
    expect(tykUrlPattern('/pets/{id}/owner')).toBe('.*(?:/pets/[^/]+/owner).*');
    expect(tykUrlPattern('/v[0-9]{1,2}/pets')).toBe('.*(?:/v[0-9]{1,2}/pets).*');
  });

  it('rewrites Go named groups for JavaScript', () => {
    expect(() => new RegExp(tykUrlPattern('/pets/(?P<id>[0-9]+)'))).not.toThrow();
  });
});

describe('tykSessionToInput', () => {
  it('maps Tyk\'s fields to gatepass\'s and validates as a gatepass session', () => {
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
      access_rights: { api1: { api_id: 'api1', api_name: 'Pets', versions: ['Default'], allowed_urls: [{ url: '/pets', methods: ['GET', 'POST'] }] } },
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
    [{ quota_max: -1, quota_remaining: 5 }, { quotaMax: -1, quotaRemaining: -1 }],
    [{ quota_max: 0 }, { quotaMax: -1 }],
    [{ quota_max: 10, quota_remaining: 50 }, { quotaMax: 10, quotaRemaining: 10 }],
    [{ quota_max: 10, quota_remaining: -3 }, { quotaMax: 10, quotaRemaining: 0 }],
    [{ quota_renewal_rate: -1 }, { quotaRenewalRate: 0 }],
    [{ rate: -1, per: -1 }, { rate: 0, per: 0 }],
    [{ rate: 0, per: 60 }, { rate: 0, per: 0 }],
    [{ rate: 0.5, per: 1 }, { rate: 1, per: 2 }],
    [{ rate: 1000.0, per: 1.0 }, { rate: 1000, per: 1 }],
    [{ apply_policies: null, apply_policy_id: 'legacy' }, { applyPolicies: ['legacy'] }],
    [{ apply_policies: ['new'], apply_policy_id: 'legacy' }, { applyPolicies: ['new'] }],
    [{ tags: null, meta_data: null, alias: '' }, { tags: [], metaData: {} }],
    [{ meta_data: { n: 1, b: false, o: { x: [1] }, gone: null } }, { metaData: { n: 1, b: false, o: '{"x":[1]}' } }],
  ])('maps %j like Tyk means it', (tyk, expected) => {
    expect(mapped(tyk)).toMatchObject(expected);
  });

  it('drops allowed_urls entries without methods (they allow nothing in Tyk); an API left with none allows no path', () => {
    const input = mapped({
      access_rights: {
        some: { allowed_urls: [{ url: '/a', methods: [] }, { url: '/b', methods: ['GET'] }] },
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
      access_rights: { api1: { limit: { rate: 5, per: 1 }, allowance_scope: '', restricted_types: null } },
    });

    expect(result).toMatchObject({ ok: true, input: { key: 'raw-key-0000000000001' }, ignored: ['allowance', 'org_id', 'access_rights.api1.limit'] });
  });

  it('names bad fields by their Tyk names', () => {
    const types = tykSessionToInput({ quota_max: 'x', expires: 1.5, access_rights: [], tags: [1] });
    const values = tykSessionToInput({ rate: 5, per: 0, rate_x: 1, access_rights: { a: { allowed_urls: [{ url: '(', methods: ['get'] }] } } });
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
    const result = tykPolicyToInput({ id: 'x', name: 'Gold', rate: 100, per: 1, quota_max: -1, quota_renewal_rate: 0, key_expires_in: -1, active: true, tags: null, meta_data: { a: 'b' } });

    expect(result).toMatchObject({ ok: true, ignored: ['id'] });
    const input = result.ok ? result.input : {};
    expect(input).toEqual({ name: 'Gold', rate: 100, per: 1, quotaMax: -1, quotaRenewalRate: 0, keyExpiresIn: 0, isInactive: false, tags: [], metaData: { a: 'b' } });
    expect(parsePolicyInput(input).success).toBe(true);
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
    ['alias', 'alias'],
    ['(body)', '(body)'],
  ])('names %s as %s', (field, tyk) => {
    expect(tykFieldName(field)).toBe(tyk);
  });
});
