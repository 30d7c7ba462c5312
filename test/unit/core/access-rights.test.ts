import { describe, expect, it } from 'vitest';
import { checkAccessRights, type RequestTarget } from '../../../lambdas/core/request/access-rights.ts';
import type { AccessRight } from '../../../lambdas/core/model/session.ts';
import { MAX_MATCH_WORK, MAX_MATCHED_ENTRIES, MAX_MATCHED_PATH_LENGTH, urlPatternWork } from '../../../lambdas/core/model/url-pattern.ts';

const GET_PET: RequestTarget = { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets/42' };

function target(overrides: Partial<RequestTarget> = {}): RequestTarget {
  return { ...GET_PET, ...overrides };
}

function rights(right: AccessRight, apiId = 'api1'): Record<string, AccessRight> {
  return { [apiId]: right };
}

describe('checkAccessRights', () => {
  describe('API', () => {
    it('allows every API when the session has no access rights', () => {
      expect(checkAccessRights({}, target({ apiId: 'anything' }))).toBe('allowed');
    });

    it('allows a listed API with no further restrictions', () => {
      expect(checkAccessRights(rights({}), target())).toBe('allowed');
    });

    it('denies an API that is not listed', () => {
      expect(checkAccessRights(rights({}), target({ apiId: 'api2' }))).toBe('api_not_allowed');
    });

    it('does not treat inherited object properties as listed APIs', () => {
      expect(checkAccessRights(rights({}), target({ apiId: 'constructor' }))).toBe('api_not_allowed');
      expect(checkAccessRights(rights({}), target({ apiId: '__proto__' }))).toBe('api_not_allowed');
    });
  });

  describe('stage (versions)', () => {
    it('allows every stage when versions is omitted or empty', () => {
      expect(checkAccessRights(rights({}), target({ stage: 'dev' }))).toBe('allowed');
      expect(checkAccessRights(rights({ versions: [] }), target({ stage: 'dev' }))).toBe('allowed');
    });

    it('allows every stage when versions contains "Default"', () => {
      expect(checkAccessRights(rights({ versions: ['v1', 'Default'] }), target({ stage: 'dev' }))).toBe('allowed');
    });

    it('allows a listed stage', () => {
      expect(checkAccessRights(rights({ versions: ['dev', 'prod'] }), target({ stage: 'prod' }))).toBe('allowed');
    });

    it('denies a stage that is not listed, as api_not_allowed', () => {
      expect(checkAccessRights(rights({ versions: ['dev'] }), target({ stage: 'prod' }))).toBe('api_not_allowed');
    });

    it('matches stages case-sensitively', () => {
      expect(checkAccessRights(rights({ versions: ['Prod'] }), target({ stage: 'prod' }))).toBe('api_not_allowed');
    });
  });

  describe('allowed URLs', () => {
    it('allows every path when allowedUrls is omitted or empty', () => {
      expect(checkAccessRights(rights({ allowedUrls: [] }), target({ path: '/admin' }))).toBe('allowed');
    });

    it('allows a path the pattern matches whole, with a listed method', () => {
      const right = rights({ allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] });

      expect(checkAccessRights(right, target())).toBe('allowed');
    });

    it('anchors the pattern at the start of the path', () => {
      const right = rights({ allowedUrls: [{ url: '/pets/[0-9]+' }] });

      expect(checkAccessRights(right, target({ path: '/admin/pets/42' }))).toBe('url_not_allowed');
    });

    it('anchors the pattern at the end of the path', () => {
      const right = rights({ allowedUrls: [{ url: '/pets/[0-9]+' }] });

      expect(checkAccessRights(right, target({ path: '/pets/42/delete' }))).toBe('url_not_allowed');
    });

    it('anchors every alternative of a pattern with |', () => {
      const right = rights({ allowedUrls: [{ url: '/a|/b' }] });

      expect(checkAccessRights(right, target({ path: '/b' }))).toBe('allowed');
      expect(checkAccessRights(right, target({ path: '/a/secret' }))).toBe('url_not_allowed');
      expect(checkAccessRights(right, target({ path: '/x/b' }))).toBe('url_not_allowed');
    });

    it('denies a matching path with a method that is not listed', () => {
      const right = rights({ allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] });

      expect(checkAccessRights(right, target({ method: 'DELETE' }))).toBe('url_not_allowed');
    });

    it('compares the request method in upper case', () => {
      const right = rights({ allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] });

      expect(checkAccessRights(right, target({ method: 'get' }))).toBe('allowed');
    });

    it('allows every method when methods is omitted or empty', () => {
      const right = rights({ allowedUrls: [{ url: '/pets/.*', methods: [] }] });

      expect(checkAccessRights(right, target({ method: 'PATCH' }))).toBe('allowed');
    });

    it('allows when any one entry matches path and method', () => {
      const right = rights({
        allowedUrls: [
          { url: '/pets/[0-9]+', methods: ['GET'] },
          { url: '/pets/[0-9]+', methods: ['DELETE'] },
        ],
      });

      expect(checkAccessRights(right, target({ method: 'DELETE' }))).toBe('allowed');
    });

    it("does not let one entry lend its method to another entry's path", () => {
      const right = rights({
        allowedUrls: [
          { url: '/pets/[0-9]+', methods: ['GET'] },
          { url: '/owners', methods: ['DELETE'] },
        ],
      });

      expect(checkAccessRights(right, target({ method: 'DELETE' }))).toBe('url_not_allowed');
    });

    it('matches Go (RE2) syntax, named groups included', () => {
      const right = rights({ allowedUrls: [{ url: '/pets/(?P<id>[0-9]+)' }, { url: '/owners/\\pL+' }] });

      expect(checkAccessRights(right, target())).toBe('allowed');
      expect(checkAccessRights(right, target({ path: '/owners/Zoë' }))).toBe('allowed');
    });

    it('answers at once for a pattern that backtracks catastrophically in a backtracking engine', () => {
      // JavaScript's RegExp needs minutes for this (nested quantifiers, then a mismatch at
      // the end); RE2 is linear in the path.
      const right = rights({ allowedUrls: [{ url: '/files/([a-z0-9]+/?)+' }] });
      const started = performance.now();

      const verdict = checkAccessRights(right, target({ path: `/files/${'a1'.repeat(40)}!` }));

      expect(verdict).toBe('url_not_allowed');
      expect(performance.now() - started).toBeLessThan(250);
    });

    it('denies a path longer than the cap, without matching it, and matches one at the cap', () => {
      const right = rights({ allowedUrls: [{ url: '/.*' }] });

      expect(checkAccessRights(right, target({ path: `/${'a'.repeat(MAX_MATCHED_PATH_LENGTH - 1)}` }))).toBe('allowed');
      expect(checkAccessRights(right, target({ path: `/${'a'.repeat(MAX_MATCHED_PATH_LENGTH)}` }))).toBe('url_not_allowed');
    });

    it('lets a stored pattern RE2 cannot compile match nothing, as a denial rather than a fault', () => {
      // Written before patterns were checked with RE2: lookaround, backreferences.
      const right = rights({ allowedUrls: [{ url: '(?!)' }, { url: '/(a)\\1' }, { url: '/pets/(?=4)[0-9]+' }] });

      expect(checkAccessRights(right, target({ path: '/aa' }))).toBe('url_not_allowed');
      expect(checkAccessRights(right, target())).toBe('url_not_allowed');
    });

    it('stays correct when more patterns are seen than the compiled-pattern cache holds', () => {
      const verdicts = Array.from({ length: 1500 }, (_, i) =>
        checkAccessRights(rights({ allowedUrls: [{ url: `/n/${i}` }] }), target({ path: `/n/${i % 2 === 0 ? i : i + 1}` })),
      );

      expect(verdicts.filter((v) => v === 'allowed')).toHaveLength(750);
    });

    it('stops matching, denied, once a request has cost its work budget (many large patterns, a long path)', () => {
      const big = (i: number) => ({ url: `/x${i}/[a-z]{0,200}` }); // a few hundred RE2 instructions each
      const path = `/${'a'.repeat(4000)}`;
      const perPattern = urlPatternWork(big(0).url, path.length);
      const affordable = Math.floor(MAX_MATCH_WORK / perPattern);
      const allowsPath = { url: '/a+' };

      // The pattern that would allow the path comes after more patterns than the budget pays for.
      const tooMany = rights({ allowedUrls: [...Array.from({ length: affordable + 1 }, (_, i) => big(i)), allowsPath] });
      expect(checkAccessRights(tooMany, target({ path }))).toBe('url_not_allowed');
      // Within the budget, it is reached and allows.
      const few = rights({ allowedUrls: [big(0), allowsPath] });
      expect(checkAccessRights(few, target({ path }))).toBe('allowed');
    });

    it('matches at most MAX_MATCHED_ENTRIES entries per request (rights merged from many policies), then denies', () => {
      const others = Array.from({ length: MAX_MATCHED_ENTRIES }, (_, i) => ({ url: `/other/${i}` }));
      expect(checkAccessRights(rights({ allowedUrls: [...others, { url: '.*' }] }), target())).toBe('url_not_allowed');
      expect(checkAccessRights(rights({ allowedUrls: [...others.slice(1), { url: '.*' }] }), target())).toBe('allowed');
    });

    it('checks the stage before the URL (a wrong stage is api_not_allowed)', () => {
      const right = rights({ versions: ['dev'], allowedUrls: [{ url: '/nothing' }] });

      expect(checkAccessRights(right, target())).toBe('api_not_allowed');
    });
  });
});
