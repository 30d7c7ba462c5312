import type { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { SessionInputSchema, SessionPatchSchema } from '../../../lambdas/core/model/session.ts';
import { isExpired, newSessionFields } from '../../../lambdas/core/model/session-rules.ts';
import { NOW } from '../../support/fixtures.ts';

/** The paths zod names for an invalid input, unknown keys spelled out one by one. */
function badFields(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key].join('.')) : [issue.path.join('.')],
  );
}

function problemsWith(input: unknown): string[] {
  const result = SessionInputSchema.safeParse(input);
  if (result.success) return [];
  return badFields(result.error);
}

describe('SessionInputSchema and newSessionFields', () => {
  it('applies the documented defaults to an empty body', () => {
    const fields = newSessionFields(SessionInputSchema.parse({}), NOW);

    expect(fields).toEqual({
      expires: 0,
      quotaMax: -1,
      quotaRemaining: -1,
      quotaRenewalRate: 0,
      quotaRenews: NOW, // now + quotaRenewalRate (0)
      rate: 0,
      per: 0,
      accessRights: {},
      applyPolicies: [],
      metaData: {},
      tags: [],
      isInactive: false,
    });
  });

  it('defaults quotaRemaining to quotaMax and quotaRenews to now + quotaRenewalRate', () => {
    const fields = newSessionFields(SessionInputSchema.parse({ quotaMax: 100, quotaRenewalRate: 3600 }), NOW);

    expect(fields).toMatchObject({ quotaMax: 100, quotaRemaining: 100, quotaRenews: NOW + 3600 });
  });

  it('keeps quotaRemaining and quotaRenews when they are given', () => {
    const fields = newSessionFields(
      SessionInputSchema.parse({ quotaMax: 100, quotaRemaining: 7, quotaRenewalRate: 3600, quotaRenews: NOW + 5 }),
      NOW,
    );

    expect(fields).toMatchObject({ quotaRemaining: 7, quotaRenews: NOW + 5 });
  });

  it('keeps the alias only when one is given', () => {
    expect(newSessionFields(SessionInputSchema.parse({}), NOW)).not.toHaveProperty('alias');
    expect(newSessionFields(SessionInputSchema.parse({ alias: 'mobile' }), NOW)).toHaveProperty('alias', 'mobile');
  });

  it('ignores the read-only fields a client echoes back', () => {
    const parsed = SessionInputSchema.safeParse({ keyId: 'x', createdAt: 1, updatedAt: 2, version: 3 });

    expect(parsed.success).toBe(true);
  });

  it('rejects an allowedUrls entry that is not a valid regular expression', () => {
    const problems = problemsWith({ accessRights: { api1: { allowedUrls: [{ url: '/pets/(' }] } } });

    expect(problems).toEqual(['accessRights.api1.allowedUrls.0.url']);
  });

  it('rejects a lower-case HTTP method', () => {
    const problems = problemsWith({ accessRights: { api1: { allowedUrls: [{ url: '/pets', methods: ['get'] }] } } });

    expect(problems).toEqual(['accessRights.api1.allowedUrls.0.methods.0']);
  });

  it('rejects a rate without a per', () => {
    expect(problemsWith({ rate: 10 })).toEqual(['per']);
    expect(problemsWith({ rate: 10, per: 0 })).toEqual(['per']);
  });

  it('accepts a rate with a per', () => {
    expect(problemsWith({ rate: 10, per: 60 })).toEqual([]);
  });

  it('names each unknown field, including nested ones', () => {
    const problems = problemsWith({ bogus: 1, extra: true, accessRights: { api1: { stages: [] } } });

    expect(problems).toEqual(expect.arrayContaining(['bogus', 'extra', 'accessRights.api1.stages']));
    expect(problems).toHaveLength(3);
  });

  it('names every field with a wrong type at once', () => {
    const problems = problemsWith({ alias: 5, quotaMax: 'ten', expires: -1, isInactive: 'yes', metaData: { 'bad name': 1 } });

    expect(problems).toEqual(expect.arrayContaining(['alias', 'quotaMax', 'expires', 'isInactive']));
    expect(problems.some((field) => field.startsWith('metaData'))).toBe(true);
  });

  it('rejects a quotaMax below -1 and fractional counts', () => {
    expect(problemsWith({ quotaMax: -2 })).toEqual(['quotaMax']);
    expect(problemsWith({ rate: 1.5, per: 10 })).toEqual(['rate']);
  });

  it('names a rate without per together with another bad field', () => {
    expect(problemsWith({ rate: 10, quotaMax: 'ten' })).toEqual(expect.arrayContaining(['per', 'quotaMax']));
  });
});

describe('SessionPatchSchema', () => {
  it('accepts null as the alias (removes it)', () => {
    expect(SessionPatchSchema.parse({ alias: null })).toMatchObject({ alias: null });
  });

  it('applies no defaults: only the fields given are in the patch', () => {
    expect(SessionPatchSchema.parse({ alias: 'renamed' })).toEqual({ alias: 'renamed' });
  });
});

describe('isExpired', () => {
  it('never expires a session with expires 0', () => {
    expect(isExpired(0, NOW)).toBe(false);
  });

  it('is expired at expires == now and not at expires == now + 1', () => {
    expect(isExpired(NOW, NOW)).toBe(true);
    expect(isExpired(NOW + 1, NOW)).toBe(false);
  });
});
