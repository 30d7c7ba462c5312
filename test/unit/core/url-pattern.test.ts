import { describe, expect, it } from 'vitest';
import { fieldProblems } from '../../../lambdas/core/model/input-error.ts';
import { SessionInputSchema, SessionPatchSchema } from '../../../lambdas/core/model/session.ts';
import { MAX_URL_PATTERN_LENGTH, urlPatternMatches, urlPatternProblem } from '../../../lambdas/core/model/url-pattern.ts';

function urlProblems(url: string): Array<{ field: string; message: string }> {
  const result = SessionInputSchema.safeParse({ accessRights: { api1: { allowedUrls: [{ url, methods: ['GET'] }] } } });
  return result.success ? [] : fieldProblems(result.error);
}

describe('urlPatternProblem', () => {
  it('accepts RE2 patterns, Go named groups and Unicode classes included', () => {
    expect(['/pets/[0-9]+', '.*(?:/pets/(?P<id>[^/]+)).*', '/a|/b', '/owners/\\pL+', '(?i)/api/v[0-9]+'].map(urlPatternProblem)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it.each([
    ['a backreference', '/(a)\\1'],
    ['a lookahead', '/pets/(?=[0-9])'],
    ['a negative lookahead', '(?!)'],
    ['a lookbehind', '(?<=/v1)/pets'],
    ['a syntax error', '/pets('],
  ])('refuses %s, saying RE2 cannot compile it', (_what, pattern) => {
    expect(urlPatternProblem(pattern)).toMatch(/^RE2 cannot compile it \(backreferences and lookaround are not supported\): /);
  });

  it('refuses patterns that are empty, too long or compile to too many instructions', () => {
    expect(urlPatternProblem('')).toBe('must not be empty');
    expect(urlPatternProblem('a'.repeat(MAX_URL_PATTERN_LENGTH + 1))).toMatch(/^must be at most 1024 characters/);
    expect(urlPatternProblem('x{1000}y{1000}')).toMatch(/^is too complex/);
  });
});

describe('urlPatternMatches', () => {
  it('matches the whole path only', () => {
    expect(urlPatternMatches('/pets/[0-9]+', '/pets/42')).toBe(true);
    expect(urlPatternMatches('/pets/[0-9]+', '/pets/42/owner')).toBe(false);
    expect(urlPatternMatches('/pets/[0-9]+', '/v1/pets/42')).toBe(false);
  });
});

describe('URL patterns in session input (admin API and plugins)', () => {
  it('names the field of a pattern RE2 cannot compile, with the reason', () => {
    expect(urlProblems('/pets/(?=[0-9])')).toEqual([
      { field: 'accessRights.api1.allowedUrls.0.url', message: expect.stringContaining('invalid or unsupported Perl syntax: `(?=`') },
    ]);
  });

  it('checks patterns in partial updates too', () => {
    const result = SessionPatchSchema.safeParse({ accessRights: { api1: { allowedUrls: [{ url: '/(a)\\1' }] } } });

    expect(result.success ? [] : fieldProblems(result.error).map((p) => p.field)).toEqual(['accessRights.api1.allowedUrls.0.url']);
  });

  it('accepts a valid pattern', () => {
    expect(urlProblems('/pets/[0-9]+')).toEqual([]);
  });
});
