import { checkAccessRights, type RequestTarget } from './access-rights.ts';
import type { Reason } from '../model/reasons.ts';
import { isExpired, type AccessRight } from '../model/session.ts';

/** What the checks before consumption need of a session. */
export interface CheckedSession {
  readonly isInactive: boolean;
  readonly expires: number;
}

/**
 * The checks that need no write, in Tyk's order: inactive → session expiry → access
 * rights (API, stage, URL + method). Returns the first failing reason, or `undefined`.
 */
export function checkSession(
  session: CheckedSession,
  accessRights: Readonly<Record<string, AccessRight>>,
  target: RequestTarget,
  now: number,
): Extract<Reason, 'key_inactive' | 'session_expired' | 'api_not_allowed' | 'url_not_allowed'> | undefined {
  if (session.isInactive) return 'key_inactive';
  if (isExpired(session.expires, now)) return 'session_expired';
  const access = checkAccessRights(accessRights, target);
  return access === 'allowed' ? undefined : access;
}
