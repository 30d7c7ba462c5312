import { describe, expect, it } from 'vitest';
import { checkAccessRights, pathToMatch, type RequestTarget } from '../../../lambdas/core/request/access-rights.ts';
import { parseMethodArn } from '../../../lambdas/authorizer/method-arn.ts';
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

  describe('ambiguous paths (dot segments, encoded separators, double encoding)', () => {
    const PUBLIC = rights({ allowedUrls: [{ url: '/public/.*' }] });

    it.each([
      ['/public/..%2Fadmin', 'an encoded slash'],
      ['/public/..%2fadmin', 'an encoded slash, lower-case hex'],
      ['/public/..%5Cadmin', 'an encoded backslash'],
      ['/public/..\\admin', 'a raw backslash'],
      ['/public/..;/admin', 'a dot-dot segment with a path parameter'],
      ['/public/..;jsessionid=x/admin', 'a dot-dot segment with a named path parameter'],
      ['/public/..%3B/admin', 'a dot-dot segment with an encoded ;'],
      ['/public/../admin', 'a raw dot-dot segment'],
      ['/public/./admin', 'a raw dot segment'],
      ['/public/..', 'a trailing dot-dot segment'],
      ['/public/%2e%2e/admin', 'an encoded dot-dot segment'],
      ['/public/%2E%2E/admin', 'an encoded dot-dot segment, upper-case hex'],
      ['/public/.%2e/admin', 'a half-encoded dot-dot segment'],
      ['/public/%2e/admin', 'an encoded dot segment'],
      ['/public/%252e%252e/admin', 'a double-encoded dot-dot segment'],
      ['/public/%252Fadmin', 'a double-encoded slash'],
      ['/public/a%zz', 'a % not followed by two hex digits'],
      ['/public/a%', 'a lone % at the end'],
    ])('denies %s (%s) as url_not_allowed, whatever the patterns', (path) => {
      expect(pathToMatch(path)).toBeUndefined();
      expect(checkAccessRights(PUBLIC, target({ path }))).toBe('url_not_allowed');
      expect(checkAccessRights(rights({ allowedUrls: [{ url: '.*' }] }), target({ path }))).toBe('url_not_allowed');
    });

    it.each([
      ['/public/docs', '/public/docs'],
      ['/public/%7Euser', '/public/~user'],
      ['/public/%41%62%2D%5F%2e1', '/public/Ab-_.1'],
      ['/public/...', '/public/...'],
      ['/public/.well-known/x', '/public/.well-known/x'],
      ['/public/a..b/c', '/public/a..b/c'],
      ['/public/a%20b', '/public/a%20b'],
      ['/public/a%3Bb', '/public/a%3Bb'],
      ['/public/a;v=1', '/public/a;v=1'],
      ['/', '/'],
    ])('matches %s as %s', (path, matched) => {
      expect(pathToMatch(path)).toBe(matched);
      expect(checkAccessRights(PUBLIC, target({ path }))).toBe(path === '/' ? 'url_not_allowed' : 'allowed');
    });

    it('decodes unreserved characters before matching, so an encoded letter neither hides nor loses a path', () => {
      const admin = rights({ allowedUrls: [{ url: '/admin' }] });

      expect(checkAccessRights(admin, target({ path: '/%61dmin' }))).toBe('allowed');
      expect(checkAccessRights(rights({ allowedUrls: [{ url: '/public/[a-z]+' }] }), target({ path: '/public/%61dmin' }))).toBe('allowed');
    });

    it('denies /public/../admin inside a method ARN for a key with URL rights', () => {
      const { path } = parseMethodArn('arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/public/../admin');

      expect(path).toBe('/public/../admin');
      expect(checkAccessRights(PUBLIC, target({ path }))).toBe('url_not_allowed');
    });

    it('leaves keys without URL rights on the API alone: their paths are not read', () => {
      for (const path of ['/public/..%2Fadmin', '/public/../admin', '/public/%252e']) {
        expect(checkAccessRights({}, target({ path }))).toBe('allowed');
        expect(checkAccessRights(rights({}), target({ path }))).toBe('allowed');
        expect(checkAccessRights(rights({ allowedUrls: [] }), target({ path }))).toBe('allowed');
        expect(checkAccessRights({ ...PUBLIC, api2: {} }, target({ apiId: 'api2', path }))).toBe('allowed');
      }
    });
  });
});
