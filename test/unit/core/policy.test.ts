import { describe, expect, it } from 'vitest';
import { fieldProblems } from '../../../lambdas/admin/key-service.ts';
import {
  effectiveSettings,
  isPolicyId,
  mergeAccessRights,
  mergeLimits,
  parsePolicyInput,
  sessionFromPolicies,
  type Policy,
  type PolicySubject,
} from '../../../lambdas/core/policies/policy.ts';
import { SessionInputSchema, type SessionFields, type SessionInput } from '../../../lambdas/core/model/session.ts';

const NOW = 1_700_000_000;

/** A stored policy: defaults of an empty body, then `fields`. */
function policy(id: string, fields: Record<string, unknown> = {}): Policy {
  const parsed = parsePolicyInput(fields);
  if (!parsed.success) throw new Error(`bad test policy: ${JSON.stringify(fieldProblems(parsed.error))}`);
  return { ...parsed.data, id, version: 1, createdAt: NOW, updatedAt: NOW };
}

/** A session with its own (generous) limits and rights, applying `applyPolicies`. */
function subject(applyPolicies: string[], own: Partial<PolicySubject> = {}): PolicySubject {
  return { rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0, accessRights: {}, applyPolicies, ...own };
}

function badFields(body: unknown): string[] {
  const result = parsePolicyInput(body);
  return result.success ? [] : fieldProblems(result.error).map((problem) => problem.field);
}

describe('PolicyInputSchema (parsePolicyInput)', () => {
  it('applies the contract defaults to an empty body', () => {
    const result = parsePolicyInput({});

    expect(result).toEqual({
      success: true,
      data: { rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0, accessRights: {}, keyExpiresIn: 0, tags: [], metaData: {}, isInactive: false },
    });
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
  });

  it('names per alongside other bad fields and unknown ones, but not when rate itself is bad', () => {
    expect(badFields({ rate: 10, quotaMax: 'lots', plan: 'x' }).sort()).toEqual(['per', 'plan', 'quotaMax']);
    expect(badFields({ rate: 'ten' })).toEqual(['rate']);
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
  it("uses the session's own fields when it applies no policy", () => {
    const own = subject([], { rate: 5, per: 2, quotaMax: 100, quotaRenewalRate: 60, accessRights: { api1: {} } });

    expect(effectiveSettings(own, [policy('ignored', { quotaMax: 1 })])).toEqual({
      limits: { rate: 5, per: 2, quotaMax: 100, quotaRenewalRate: 60 },
      accessRights: { api1: {} },
      inactive: false,
      missing: [],
    });
  });

  it("lets one policy's limits and rights replace the session's own", () => {
    const own = subject(['free'], { rate: 0, quotaMax: -1, accessRights: {} });
    const free = policy('free', { rate: 10, per: 60, quotaMax: 1000, quotaRenewalRate: 86_400, accessRights: { api1: { versions: ['prod'] } } });

    expect(effectiveSettings(own, [free])).toEqual({
      limits: { rate: 10, per: 60, quotaMax: 1000, quotaRenewalRate: 86_400 },
      accessRights: { api1: { versions: ['prod'] } },
      inactive: false,
      missing: [],
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

  it('treats rate 0 and quotaMax -1 as unlimited, the most generous of all', () => {
    const limited = policy('limited', { rate: 1000, per: 1, quotaMax: 1_000_000, quotaRenewalRate: 1 });
    const unlimited = policy('unlimited', { rate: 0, quotaMax: -1 });

    expect(effectiveSettings(subject(['limited', 'unlimited']), [limited, unlimited]).limits).toEqual({
      rate: 0,
      per: 0,
      quotaMax: -1,
      quotaRenewalRate: 0,
    });
  });

  it('breaks ties: larger rate on equal ratios, shorter renewing window on equal quota, a never-renewing quota last', () => {
    expect(mergeLimits([
      { rate: 10, per: 1, quotaMax: 100, quotaRenewalRate: 0 },
      { rate: 600, per: 60, quotaMax: 100, quotaRenewalRate: 3600 },
      { rate: 1, per: 1, quotaMax: 100, quotaRenewalRate: 60 },
    ])).toEqual({ rate: 600, per: 60, quotaMax: 100, quotaRenewalRate: 60 });
  });

  it('compares rates exactly even where floating point would not', () => {
    // x/(3x-1) > (x+1)/(3x+2), but the two doubles are equal: a float comparison would
    // call it a tie and pick the larger rate.
    const x = 1e15;
    expect(mergeLimits([
      { rate: x + 1, per: 3 * x + 2, quotaMax: 0, quotaRenewalRate: 0 },
      { rate: x, per: 3 * x - 1, quotaMax: 0, quotaRenewalRate: 0 },
    ])).toMatchObject({ rate: x, per: 3 * x - 1 });
  });

  it('unions the APIs of several policies, and versions and URLs within an API', () => {
    const a = policy('a', {
      accessRights: {
        api1: { apiName: 'Pets', versions: ['prod'], allowedUrls: [{ url: '/pets', methods: ['GET'] }] },
        api2: {},
      },
    });
    const b = policy('b', {
      accessRights: {
        api1: { versions: ['dev', 'prod'], allowedUrls: [{ url: '/pets', methods: ['POST', 'GET'] }, { url: '/owners' }] },
        api3: { versions: ['prod'] },
      },
    });

    expect(effectiveSettings(subject(['a', 'b']), [a, b]).accessRights).toEqual({
      api1: {
        apiName: 'Pets',
        versions: ['prod', 'dev'],
        allowedUrls: [{ url: '/pets', methods: ['GET', 'POST'] }, { url: '/owners' }],
      },
      api2: {},
      api3: { versions: ['prod'] },
    });
  });

  it('allows every stage, path or method when one side allows all of them', () => {
    expect(mergeAccessRights([
      { api1: { versions: ['prod'], allowedUrls: [{ url: '/a', methods: ['GET'] }] }, api2: { versions: ['prod'] }, api3: { allowedUrls: [{ url: '/a', methods: ['GET'] }] } },
      { api1: { versions: ['Default'], allowedUrls: [] }, api2: { versions: [] }, api3: { allowedUrls: [{ url: '/a' }] } },
    ])).toEqual({ api1: {}, api2: {}, api3: { allowedUrls: [{ url: '/a' }] } });
  });

  it('grants every API when any applied policy has no access rights ({} = every API)', () => {
    const scoped = policy('scoped', { accessRights: { api1: {} } });
    const open = policy('open');

    expect(effectiveSettings(subject(['scoped', 'open']), [scoped, open]).accessRights).toEqual({});
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
    const settings = effectiveSettings(subject(['on', 'off']), [policy('on'), policy('off', { isInactive: true })]);

    expect(settings).toMatchObject({ inactive: true, missing: [] });
  });

  it('lists the ids with no policy, marks the session inactive, and ignores policies it does not apply', () => {
    const settings = effectiveSettings(subject(['free', 'gone', 'free']), [policy('free', { quotaMax: 10 }), policy('other', { quotaMax: -1 })]);

    expect(settings).toEqual({
      limits: { rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 0 },
      accessRights: {},
      inactive: true,
      missing: ['gone'],
    });
  });

  it("grants nothing when no applied policy exists, never the session's own limits", () => {
    const own = subject(['gone'], { quotaMax: -1, rate: 0 });

    expect(effectiveSettings(own, [])).toEqual({
      limits: { rate: 0, per: 0, quotaMax: 0, quotaRenewalRate: 0 },
      accessRights: {},
      inactive: true,
      missing: ['gone'],
    });
  });
});

describe('sessionFromPolicies', () => {
  it('builds a session that expires after the smallest non-zero keyExpiresIn', () => {
    const fields = sessionFromPolicies([policy('trial', { keyExpiresIn: 3600 }), policy('never'), policy('week', { keyExpiresIn: 604_800 })], NOW);

    expect(fields.expires).toBe(NOW + 3600);
  });

  it('never expires when every policy has keyExpiresIn 0', () => {
    expect(sessionFromPolicies([policy('a'), policy('b')], NOW).expires).toBe(0);
  });

  it('takes limits and rights as effectiveSettings does, with a full quota window opening now', () => {
    const gold = policy('gold', { rate: 10, per: 1, quotaMax: 1000, quotaRenewalRate: 3600, accessRights: { api1: {} } });
    const silver = policy('silver', { rate: 1, per: 1, quotaMax: 100, quotaRenewalRate: 60, accessRights: { api2: {} } });

    expect(sessionFromPolicies([gold, silver], NOW)).toMatchObject({
      rate: 10,
      per: 1,
      quotaMax: 1000,
      quotaRemaining: 1000,
      quotaRenewalRate: 3600,
      quotaRenews: NOW + 3600,
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

  it('gives fields that the session schema accepts and the store can write', () => {
    const fields = sessionFromPolicies([policy('free', { rate: 2, per: 1, keyExpiresIn: 60 })], NOW);
    const asInput: SessionInput = fields;
    const asFields: SessionFields = fields;

    expect(SessionInputSchema.safeParse(asInput).success).toBe(true);
    expect(asFields.quotaRenews).toBe(NOW);
  });

  it('refuses to build a session from no policy (it would be unlimited)', () => {
    expect(() => sessionFromPolicies([], NOW)).toThrow(expect.objectContaining({ code: 'ERR_VALIDATION' }));
  });
});
