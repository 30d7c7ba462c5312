import { isDeepStrictEqual } from 'node:util';
import { SessionFieldsSchema } from '../core/model/session.ts';
import type { StoredSession } from '../core/store/item.ts';

/** Comparisons of two reads of one key, by which an admin write sent without `If-Match` tries again on what it meets. */

/** A session's settings as stored: every field of a session but its counters, and the keys rotated into it. */
const SETTINGS = [
  ...Object.keys(SessionFieldsSchema.shape).filter((field) => field !== 'quotaRemaining' && field !== 'quotaRenews'),
  'keyIds',
];

/** Whether two reads of one key hold the same settings: whatever changed between them (a reset) moved only its counters. */
export function sameSettings(read: StoredSession, now: StoredSession): boolean {
  const a = read as unknown as Record<string, unknown>;
  const b = now as unknown as Record<string, unknown>;
  return read.incarnation === now.incarnation && SETTINGS.every((field) => isDeepStrictEqual(a[field], b[field]));
}

/** Whether two reads of one key are of the same life (whatever else changed between them). */
export function sameLife(read: StoredSession, now: StoredSession): boolean {
  return read.incarnation === now.incarnation;
}
