import { describe, expect, it } from 'vitest';
import { fieldProblems } from '../../../lambdas/core/model/input-error.ts';
import {
  effectiveSettings,
  isPolicyId,
  limitsFor,
  mergeAccessRights,
  mergeLimits,
  parsePolicyInput,
  type Policy,
  type PolicySubject,
} from '../../../lambdas/core/policies/policy.ts';
import { sessionFromPolicies } from '../../../lambdas/core/policies/session-from-policies.ts';
import { SessionInputSchema, type SessionInput } from '../../../lambdas/core/model/session.ts';
import { NOW } from '../../support/fixtures.ts';
import { importedPolicy } from '../../support/tyk.ts';

/** A stored policy: `fields` validated as a policy body. */
function policy(id: string, fields: Record<string, unknown> = {}): Policy {
  const parsed = parsePolicyInput(fields);
  if (!parsed.success) throw new Error(`bad test policy: ${JSON.stringify(fieldProblems(parsed.error))}`);
  return { ...parsed.data, id, version: 1, createdAt: NOW, updatedAt: NOW };
}

/** A session with its own (generous) limits and rights, applying `applyPolicies`. */
function subject(applyPolicies: string[], own: Partial<PolicySubject> = {}): PolicySubject {
  return { rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0, accessRights: {}, applyPolicies, isInactive: false, ...own };
}

/** The settings of a key applying Tyk's test policies `names` (from Tyk's policies.json), in that order. */
function tykSettings(names: string[], own: Partial<PolicySubject> = {}) {
  return effectiveSettings(
    subject(names, own),
    names.map((name) => importedPolicy(name)),
  );
}

function badFields(body: unknown): string[] {
  const result = parsePolicyInput(body);
  return result.success ? [] : fieldProblems(result.error).map((problem) => problem.field);
}

describe('PolicyInputSchema (parsePolicyInput)', () => {
  it('sets no limit for an empty body: a policy only sets the limits it names', () => {
    const result = parsePolicyInput({});

    expect(result).toEqual({ success: true, data: { accessRights: {}, keyExpiresIn: 0, tags: [], metaData: {}, isInactive: false } });
  });

  it('accepts and drops the read-only fields a GET returns', () => {
    const result = parsePolicyInput({ id: 'other', version: 7, createdAt: 1, updatedAt: 2, name: 'Free tier' });

    expect(result.success && result.data).toEqual(expect.objectContaining({ name: 'Free tier' }));
    expect(result.success && Object.keys(result.data)).not.toEqual(expect.arrayContaining(['id', 'version', 'createdAt', 'updatedAt']));
  });

  it('names every bad field at once', () => {
    const fields = badFields({
      name: '',
      rate: -1,
      per: 1.5,
      quotaMax: -2,
      quotaRenewalRate: 'hourly',
      accessRights: { api1: { versions: 'prod', allowedUrls: [{ url: '(', methods: ['get'] }] } },
      partitions: { quota: 'yes', complexity: true },
      keyExpiresIn: -5,
      tags: [''],
      metaData: { 'bad name': 1, plan: { nested: true } },
      isInactive: 'no',
      owner: 'alice',
    });

    expect(fields.sort()).toEqual(
      [
        'name',
        'rate',
        'per',
        'quotaMax',
        'quotaRenewalRate',
        'accessRights.api1.versions',
        'accessRights.api1.allowedUrls.0.url',
        'accessRights.api1.allowedUrls.0.methods.0',
        'partitions.quota',
        'partitions.complexity',
        'keyExpiresIn',
        'tags.0',
        'metaData.bad name',
        'metaData.plan',
        'isInactive',
        'owner',
      ].sort(),
    );
  });

  it('requires per > 0 when rate is set', () => {
    expect(badFields({ rate: 10 })).toEqual(['per']);
    expect(badFields({ rate: 10, per: 0 })).toEqual(['per']);
    expect(badFields({ rate: 10, per: 1 })).toEqual([]);
    expect(badFields({ rate: 0 })).toEqual([]);
  });

  it('names per alongside other bad fields and unknown ones, but not when rate itself is bad', () => {
    expect(badFields({ rate: 10, quotaMax: 'lots', plan: 'x' }).sort()).toEqual(['per', 'plan', 'quotaMax']);
    expect(badFields({ rate: 'ten' })).toEqual(['rate']);
  });

  it('refuses per-API partitions combined with others, or listing no API (Tyk refuses to apply such a policy)', () => {
    // Tyk's per_api_and_partitions / per_api_and_some_partitions: "cannot apply policy … which has per_api and any of partitions set".
    expect(badFields({ partitions: { perApi: true, rateLimit: true }, accessRights: { d: {} } })).toEqual(['partitions.perApi']);
    expect(badFields({ partitions: { perApi: true } })).toEqual(['accessRights']);
  });

  it("refuses an API's limit outside a per-API policy, where Tyk ignores it", () => {
    expect(badFields({ accessRights: { d: { limit: { rate: 20, per: 1 } } } })).toEqual(['accessRights.d.limit']);
    expect(badFields({ partitions: { perApi: true }, accessRights: { d: { limit: { rate: 20 } } } })).toEqual(['accessRights.d.limit.per']);
  });

  it('rejects a body that is not an object', () => {
    expect(badFields([])).toEqual(['(body)']);
  });

  it('accepts ids of letters, digits, _, . and - up to 128 characters', () => {
    expect(['free', 'gold.v2', 'tier_1-a', 'x'.repeat(128)].every(isPolicyId)).toBe(true);
    expect(['', 'a/b', 'a b', 'ü', 'x'.repeat(129), 'a#b'].some(isPolicyId)).toBe(false);
  });
});

describe('effectiveSettings', () => {
  it("uses the session's own fields, API limits included, when it applies no policy", () => {
    const own = subject([], {
      rate: 5,
      per: 2,
      quotaMax: 100,
      quotaRenewalRate: 60,
      accessRights: { api1: {}, api2: { limit: { quotaMax: 7 } } },
    });

    expect(effectiveSettings(own, [policy('ignored', { quotaMax: 1 })])).toEqual({
      limits: { rate: 5, per: 2, quotaMax: 100, quotaRenewalRate: 60 },
      accessRights: { api1: {}, api2: { limit: { rate: 0, per: 0, quotaMax: 7, quotaRenewalRate: 0 } } },
      inactive: false,
      missing: [],
      conflicting: [],
    });
  });

  it("lets one policy's limits and rights replace the session's own", () => {
    const own = subject(['free'], { rate: 0, quotaMax: -1, accessRights: {} });
    const free = policy('free', {
      rate: 10,
      per: 60,
      quotaMax: 1000,
      quotaRenewalRate: 86_400,
      accessRights: { api1: { versions: ['prod'] } },
    });

    expect(effectiveSettings(own, [free])).toEqual({
      limits: { rate: 10, per: 60, quotaMax: 1000, quotaRenewalRate: 86_400 },
      accessRights: { api1: { versions: ['prod'] } },
      inactive: false,
      missing: [],
      conflicting: [],
    });
  });

  it('takes the most generous rate (highest rate/per) and quota among several policies', () => {
    const slow = policy('slow', { rate: 100, per: 60, quotaMax: 5000, quotaRenewalRate: 3600 });
    const fast = policy('fast', { rate: 5, per: 1, quotaMax: 1000, quotaRenewalRate: 60 });

    expect(effectiveSettings(subject(['slow', 'fast']), [slow, fast]).limits).toEqual({
      rate: 5,
      per: 1,
      quotaMax: 5000,
      quotaRenewalRate: 3600,
    });
  });

  it('keeps the limits of a limiting policy merged with an access-only one (Tyk: ApplyRateLimits skips an empty rate)', () => {
    const access = policy('access', { accessRights: { api1: {} } });
    const limiting = policy('limiting', { rate: 2, per: 5, quotaMax: 2, accessRights: { api1: {} } });

    expect(effectiveSettings(subject(['access', 'limiting']), [access, limiting]).limits).toEqual({
      rate: 2,
      per: 5,
      quotaMax: 2,
      quotaRenewalRate: 0,
    });
    expect(effectiveSettings(subject(['limiting', 'access']), [access, limiting]).limits).toEqual({
      rate: 2,
      per: 5,
      quotaMax: 2,
      quotaRenewalRate: 0,
    });
  });

  it('merges quotaMax and quotaRenewalRate apart, each by its highest value (3 per 5 s + 2 per 3600 s → 3 per 3600 s)', () => {
    const short = policy('short', { quotaMax: 3, quotaRenewalRate: 5 });
    const long = policy('long', { quotaMax: 2, quotaRenewalRate: 3600 });

    expect(effectiveSettings(subject(['short', 'long']), [short, long]).limits).toMatchObject({ quotaMax: 3, quotaRenewalRate: 3600 });
  });

  it("lets an explicit rate 0 (no limit) and quotaMax -1 (unlimited) lift the other policies' limits", () => {
    const limited = policy('limited', { rate: 1000, per: 1, quotaMax: 1_000_000, quotaRenewalRate: 1 });
    const unlimited = policy('unlimited', { rate: 0, quotaMax: -1 });

    expect(effectiveSettings(subject(['limited', 'unlimited']), [limited, unlimited]).limits).toEqual({
      rate: 0,
      per: 0,
      quotaMax: -1,
      quotaRenewalRate: 0,
    });
  });

  it('gives no limit at all when no applied policy sets one', () => {
    expect(effectiveSettings(subject(['a'], { rate: 5, per: 1, quotaMax: 9 }), [policy('a')]).limits).toEqual({
      rate: 0,
      per: 0,
      quotaMax: -1,
      quotaRenewalRate: 0,
    });
  });

  it('breaks ties on equal ratios with the larger rate (bigger bursts)', () => {
    expect(
      mergeLimits([
        { rate: 10, per: 1 },
        { rate: 600, per: 60 },
        { rate: 1, per: 1 },
      ]),
    ).toMatchObject({ rate: 600, per: 60 });
  });

  it('compares rates exactly even where floating point would not', () => {
    // x/(3x-1) > (x+1)/(3x+2), but the two doubles are equal: a float comparison would
    // call it a tie and pick the larger rate.
    const x = 1e15;
    expect(
      mergeLimits([
        { rate: x + 1, per: 3 * x + 2 },
        { rate: x, per: 3 * x - 1 },
      ]),
    ).toMatchObject({ rate: x, per: 3 * x - 1 });
  });

  it('unions the APIs of several policies, and versions and URLs within an API', () => {
    const a = policy('a', {
      accessRights: { api1: { apiName: 'Pets', versions: ['prod'], allowedUrls: [{ url: '/pets', methods: ['GET'] }] }, api2: {} },
    });
    const b = policy('b', {
      accessRights: {
        api1: { versions: ['dev', 'prod'], allowedUrls: [{ url: '/pets', methods: ['POST', 'GET'] }, { url: '/owners' }] },
        api3: { versions: ['prod'] },
      },
    });

    expect(effectiveSettings(subject(['a', 'b']), [a, b]).accessRights).toEqual({
      api1: { apiName: 'Pets', versions: ['prod', 'dev'], allowedUrls: [{ url: '/pets', methods: ['GET', 'POST'] }, { url: '/owners' }] },
      api2: {},
      api3: { versions: ['prod'] },
    });
  });

  it('lets a list one policy leaves empty take no part in the union (Tyk: appendIfMissing, MergeAllowedURLs)', () => {
    expect(
      mergeAccessRights([
        { api1: {}, api2: { versions: ['prod'] }, api3: { allowedUrls: [{ url: '/a' }] } },
        {
          api1: { versions: ['prod'], allowedUrls: [{ url: '/user', methods: ['GET'] }] },
          api2: { versions: [] },
          api3: { allowedUrls: [{ url: '/a', methods: ['GET'] }] },
        },
      ]),
    ).toEqual({
      api1: { versions: ['prod'], allowedUrls: [{ url: '/user', methods: ['GET'] }] },
      api2: { versions: ['prod'] },
      api3: { allowedUrls: [{ url: '/a', methods: ['GET'] }] },
    });
  });

  it('lets a policy with no access rights take no part in the APIs, and grants every API when none lists any', () => {
    const scoped = policy('scoped', { accessRights: { api1: {} } });
    const open = policy('open');

    expect(effectiveSettings(subject(['scoped', 'open']), [scoped, open]).accessRights).toEqual({ api1: {} });
    expect(effectiveSettings(subject(['open']), [open]).accessRights).toEqual({});
  });

  it("ignores the session's own rights once a policy applies", () => {
    const own = subject(['scoped'], { accessRights: { api9: {} } });

    expect(effectiveSettings(own, [policy('scoped', { accessRights: { api1: {} } })]).accessRights).toEqual({ api1: {} });
  });

  it('keeps an API id such as __proto__ as an ordinary key', () => {
    const merged = mergeAccessRights([JSON.parse('{"__proto__": {"versions": ["a"]}}'), JSON.parse('{"__proto__": {"versions": ["b"]}}')]);

    expect(Object.keys(merged)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
  });

  it('makes the session inactive when any applied policy is inactive', () => {
    expect(effectiveSettings(subject(['on', 'off']), [policy('on'), policy('off', { isInactive: true })])).toMatchObject({
      inactive: true,
      missing: [],
    });
  });

  it("keeps the key inactive when it is, even with active policies (gatepass: the key's own switch)", () => {
    // Tyk 5.11+ lets the policies decide (internal/policy/apply.go: "Only the status of
    // policies applied to a key should determine the validity of the key"); gatepass never
    // writes a policy's state into the key, so the key's flag is always an operator's choice.
    expect(effectiveSettings(subject(['on'], { isInactive: true }), [policy('on')]).inactive).toBe(true);
    expect(effectiveSettings(subject([], { isInactive: true }), []).inactive).toBe(true);
  });

  it('lists the ids with no policy, marks the session inactive, and ignores policies it does not apply', () => {
    const settings = effectiveSettings(subject(['free', 'gone', 'free']), [
      policy('free', { quotaMax: 10 }),
      policy('other', { quotaMax: -1 }),
    ]);

    expect(settings).toEqual({
      limits: { rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 0 },
      accessRights: {},
      inactive: true,
      missing: ['gone'],
      conflicting: [],
    });
  });

  it("grants nothing when no applied policy exists, never the session's own limits", () => {
    expect(effectiveSettings(subject(['gone'], { quotaMax: -1, rate: 0 }), [])).toEqual({
      limits: { rate: 0, per: 0, quotaMax: 0, quotaRenewalRate: 0 },
      accessRights: {},
      inactive: true,
      missing: ['gone'],
      conflicting: [],
    });
  });
});

describe("effectiveSettings on Tyk's own test policies (internal/policy/apply_test.go)", () => {
  it('QuotaParts: picks the bigger quota of two quota partitions', () => {
    expect(tykSettings(['quota1', 'quota2']).limits.quotaMax).toBe(3);
    expect(tykSettings(['quota5', 'quota4']).limits.quotaMax).toBe(4);
  });

  it('QuotaPart with unlimited: -1', () => {
    expect(tykSettings(['unlimited-quota']).limits.quotaMax).toBe(-1);
  });

  it("QuotaPart with access rights in multi-policy: the quota partition's quota, without its API", () => {
    const settings = tykSettings(['quota4', 'nonpart1']);

    expect(settings.limits.quotaMax).toBe(3);
    expect(settings.accessRights).toEqual({ a: {} });
  });

  it("RateParts: picks the higher rate, whatever the order and the key's own rate", () => {
    expect(tykSettings(['rate1', 'rate2']).limits).toMatchObject({ rate: 4, per: 1 });
    expect(tykSettings(['rate5', 'rate4']).limits).toMatchObject({ rate: 10, per: 1 });
    expect(tykSettings(['rate4', 'rate5'], { rate: 20, per: 1 }).limits).toMatchObject({ rate: 10, per: 1 });
    expect(tykSettings(['rate-no-partition'], { rate: 20, per: 1 }).limits).toMatchObject({ rate: 12, per: 1 });
  });

  it('RatePart with unlimited: no rate limit', () => {
    expect(tykSettings(['unlimited-rate']).limits).toMatchObject({ rate: 0 });
  });

  it('inherit quota and rate from partitioned policies, in either order', () => {
    expect(tykSettings(['quota1', 'rate3']).limits).toEqual({ rate: 4, per: 4, quotaMax: 2, quotaRenewalRate: 0 });
    expect(tykSettings(['rate3', 'quota1']).limits).toEqual({ rate: 4, per: 4, quotaMax: 2, quotaRenewalRate: 0 });
  });

  it("keeps the key's own quota when no policy takes part in the quota", () => {
    expect(tykSettings(['acl1', 'rate-for-a-b'], { quotaMax: 50, quotaRenewalRate: 60 }).limits).toEqual({
      rate: 4,
      per: 1,
      quotaMax: 50,
      quotaRenewalRate: 60,
    });
  });

  it('AclPart: the rights come from ACL partitions only', () => {
    expect(tykSettings(['acl1', 'acl2']).accessRights).toEqual({ a: {}, b: {} });
    expect(tykSettings(['acl1', 'rate-for-a-b']).accessRights).toEqual({ a: {} });
    expect(tykSettings(['acl-for-a-b'], { accessRights: { c: {} } }).accessRights).toEqual({ a: {}, b: {} });
  });

  it('Acl for a,b and individual rate for a,b: one key rate (Tyk counts 4/s for a and 2/s for b — a README difference)', () => {
    expect(tykSettings(['acl-for-a-b', 'rate-for-a', 'rate-for-b']).limits).toMatchObject({ rate: 4, per: 1 });
  });

  it('Merge per path rules for the same API: URL lists and their methods are unioned', () => {
    expect(tykSettings(['per-path2', 'per-path1']).accessRights).toEqual({
      a: {
        allowedUrls: [
          { url: '.*(?:/user).*', methods: ['GET', 'POST'] },
          { url: '.*(?:/companies).*', methods: ['GET', 'POST'] },
        ],
      },
      b: { allowedUrls: [{ url: '.*(?:/).*', methods: ['PUT'] }] },
    });
  });

  it('a policy without a URL list does not widen one that lists /user', () => {
    expect(tykSettings(['nonpart1', 'per-path1']).accessRights.a).toEqual({
      allowedUrls: [{ url: '.*(?:/user).*', methods: ['GET', 'POST'] }],
    });
  });

  it('InactiveMergeOne: one inactive policy makes the key inactive', () => {
    expect(tykSettings(['tags1', 'inactive1']).inactive).toBe(true);
    expect(tykSettings(['tags1', 'tags2']).inactive).toBe(false);
  });

  it('Per API is set to true with no other partitions: each API counted apart under its own limit', () => {
    const settings = tykSettings(['per_api_and_no_other_partitions']);

    expect(settings.accessRights).toEqual({
      c: { limit: { rate: 2000, per: 60, quotaMax: -1, quotaRenewalRate: 0 } },
      d: { limit: { rate: 20, per: 1, quotaMax: 1000, quotaRenewalRate: 3600 } },
    });
    expect(limitsFor(settings, 'd')).toEqual({
      limits: { rate: 20, per: 1, quotaMax: 1000, quotaRenewalRate: 3600 },
      scope: { apiId: 'd' },
    });
  });

  it('several policies with Per API specifying limits for the same APIs: merged per API', () => {
    expect(tykSettings(['per_api_and_no_other_partitions', 'per_api_with_api_d']).accessRights.d?.limit).toEqual({
      rate: 200,
      per: 10,
      quotaMax: 5000,
      quotaRenewalRate: 3600,
    });
    expect(tykSettings(['per_api_and_no_other_partitions', 'per_api_with_api_d', 'per_api_with_api_c']).accessRights).toEqual({
      c: { limit: { rate: 3000, per: 10, quotaMax: -1, quotaRenewalRate: 0 } },
      d: { limit: { rate: 200, per: 10, quotaMax: 5000, quotaRenewalRate: 3600 } },
    });
  });

  it("Per API with an API that has no limit: the policy's own limits (Tyk counts it in the policy's scope — a README difference)", () => {
    expect(
      tykSettings(['per_api_with_limit_set_from_policy', 'per_api_with_api_d', 'per_api_with_higher_rate_on_api_d']).accessRights,
    ).toEqual({
      d: { limit: { rate: 200, per: 10, quotaMax: 5000, quotaRenewalRate: 3600 } },
      e: { limit: { rate: 300, per: 1, quotaMax: -1, quotaRenewalRate: 0 } },
    });
  });

  it('mixed per-API and partitioned policies: conflicting, so the key is denied (Tyk: "cannot apply multiple policies…")', () => {
    expect(tykSettings(['per_api_with_api_d', 'quota1'])).toMatchObject({ inactive: true, conflicting: ['per_api_with_api_d', 'quota1'] });
    expect(tykSettings(['rate1', 'per_api_with_api_d'])).toMatchObject({ inactive: true, conflicting: ['per_api_with_api_d', 'rate1'] });
  });
});

describe('limitsFor', () => {
  it("names the key's limits and scope for an API without a limit of its own", () => {
    const settings = effectiveSettings(subject([], { rate: 5, per: 1, accessRights: { api1: {} } }), []);

    expect(limitsFor(settings, 'api1')).toEqual({ limits: { rate: 5, per: 1, quotaMax: -1, quotaRenewalRate: 0 }, scope: 'key' });
    expect(limitsFor(settings, 'constructor')).toMatchObject({ scope: 'key' });
  });

  it("names an API's own limit and scope, even for an API called key", () => {
    const settings = effectiveSettings(subject([], { accessRights: { key: { limit: { rate: 1, per: 1 } } } }), []);

    expect(limitsFor(settings, 'key')).toEqual({ limits: { rate: 1, per: 1, quotaMax: -1, quotaRenewalRate: 0 }, scope: { apiId: 'key' } });
  });
});

describe('sessionFromPolicies', () => {
  it('builds a session that expires after the smallest non-zero keyExpiresIn', () => {
    const fields = sessionFromPolicies(
      [policy('trial', { keyExpiresIn: 3600 }), policy('never'), policy('week', { keyExpiresIn: 604_800 })],
      NOW,
    );

    expect(fields.expires).toBe(NOW + 3600);
  });

  it('never expires when every policy has keyExpiresIn 0', () => {
    expect(sessionFromPolicies([policy('a'), policy('b')], NOW).expires).toBe(0);
  });

  it('takes limits and rights as effectiveSettings does (its quota window opens when the session is created)', () => {
    const gold = policy('gold', { rate: 10, per: 1, quotaMax: 1000, quotaRenewalRate: 3600, accessRights: { api1: {} } });
    const silver = policy('silver', { rate: 1, per: 1, quotaMax: 100, quotaRenewalRate: 60, accessRights: { api2: {} } });

    expect(sessionFromPolicies([gold, silver], NOW)).toMatchObject({
      rate: 10,
      per: 1,
      quotaMax: 1000,
      quotaRenewalRate: 3600,
      accessRights: { api1: {}, api2: {} },
      applyPolicies: ['gold', 'silver'],
    });
  });

  it('merges tags (union) and metaData (a later policy wins on a shared name), and is not inactive', () => {
    const a = policy('a', { tags: ['free', 'eu'], metaData: { plan: 'free', region: 'eu' } });
    const b = policy('b', { tags: ['eu', 'beta'], metaData: { plan: 'beta', seats: 3 }, isInactive: true });

    expect(sessionFromPolicies([a, b], NOW)).toMatchObject({
      tags: ['free', 'eu', 'beta'],
      metaData: { plan: 'beta', region: 'eu', seats: 3 },
      isInactive: false,
    });
  });

  it('gives fields that the session schema accepts and the store can write, API limits included', () => {
    const fields = sessionFromPolicies(
      [
        policy('free', {
          rate: 2,
          per: 1,
          keyExpiresIn: 60,
          partitions: { perApi: true },
          accessRights: { api1: { limit: { quotaMax: 5 } } },
        }),
      ],
      NOW,
    );
    const asInput: SessionInput = fields;

    expect(SessionInputSchema.safeParse(asInput).success).toBe(true);
    expect(fields).not.toHaveProperty('quotaRemaining');
  });

  it('refuses to build a session from no policy (it would be unlimited)', () => {
    expect(() => sessionFromPolicies([], NOW)).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
  });
});
