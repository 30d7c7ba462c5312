import { describe, expect, it } from 'vitest';
import type { RequestTarget } from '../../../lambdas/core/request/access-rights.ts';
import { checkSession, type CheckedSession } from '../../../lambdas/core/request/checks.ts';
import type { AccessRight } from '../../../lambdas/core/model/session.ts';

const NOW = 1_700_000_000;
const TARGET: RequestTarget = { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' };
const OTHER_API_ONLY: Record<string, AccessRight> = { api2: {} };

function session(overrides: Partial<CheckedSession> = {}): CheckedSession {
  return { isInactive: false, expires: 0, ...overrides };
}

describe('checkSession', () => {
  it('passes an active, unexpired session with access to the API', () => {
    expect(checkSession(session(), {}, TARGET, NOW)).toBeUndefined();
  });

  it('reports key_inactive before an expiry and an access failure', () => {
    const result = checkSession(session({ isInactive: true, expires: NOW - 10 }), OTHER_API_ONLY, TARGET, NOW);

    expect(result).toBe('key_inactive');
  });

  it('reports session_expired before an access failure', () => {
    const result = checkSession(session({ expires: NOW - 10 }), OTHER_API_ONLY, TARGET, NOW);

    expect(result).toBe('session_expired');
  });

  it('reports an access failure last', () => {
    expect(checkSession(session(), OTHER_API_ONLY, TARGET, NOW)).toBe('api_not_allowed');
  });

  it('reports url_not_allowed for a listed API whose URLs do not match', () => {
    const rights = { api1: { allowedUrls: [{ url: '/owners' }] } };

    expect(checkSession(session(), rights, TARGET, NOW)).toBe('url_not_allowed');
  });

  it('treats expires == now as expired and expires == now + 1 as not yet', () => {
    expect(checkSession(session({ expires: NOW }), {}, TARGET, NOW)).toBe('session_expired');
    expect(checkSession(session({ expires: NOW + 1 }), {}, TARGET, NOW)).toBeUndefined();
  });

  it('never expires a session with expires 0', () => {
    expect(checkSession(session({ expires: 0 }), {}, TARGET, Number.MAX_SAFE_INTEGER)).toBeUndefined();
  });
});
