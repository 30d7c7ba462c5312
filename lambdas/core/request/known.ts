import type { StoredSession } from '../store/item.ts';
import type { Denial } from './decision.ts';

/**
 * What the loop knows of an item: its settings are current (a consistent read, the item a
 * write returned, or a hook's write that just landed) or only remembered; its counters are
 * known (a read or a returned item) or not (remembered, or written by a hook while others
 * may have counted).
 */
export interface Known {
  readonly item: StoredSession | undefined;
  readonly settingsCurrent: boolean;
  readonly countersKnown: boolean;
  /**
   * Counters not known but read moments ago in this request (before a hook's write): good
   * to plan the count with (its write checks them), never to deny on.
   */
  readonly countersHint?: boolean;
}

/** What a consistent read (or an item a write returned) tells: settings current, counters known. */
export const READ = { settingsCurrent: true, countersKnown: true, countersHint: false } as const;

/** Whether two items are the same settings of the same life. */
export function sameSettings(a: StoredSession, b: StoredSession): boolean {
  return a.version === b.version && a.incarnation === b.incarnation;
}

/** Whether a step answered a denial rather than what the request goes on with. */
export function isDenial(value: object): value is Denial {
  return 'allow' in value;
}
