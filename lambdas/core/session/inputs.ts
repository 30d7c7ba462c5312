import { isDeepStrictEqual } from 'node:util';
import { InvalidInputError } from '../model/input-error.ts';
import { RATE_NEEDS_PER, rateWithoutPer } from '../model/limit-rules.ts';
import { newSessionFields } from '../model/session-rules.ts';
import type { SessionSettings, SettingsChanges, StoredSession } from '../store/item.ts';
import type { SessionInputSchema } from '../model/session.ts';
import type * as z from 'zod';

/** What the session service reads from its callers' inputs. */

/** A parsed create or replace body. */
export type SessionInputFields = z.output<typeof SessionInputSchema>;

/** The settings of a parsed create or replace body, with a new session's defaults. */
export function settingsOf(input: SessionInputFields, now: number): SessionSettings {
  const { quotaRemaining: _r, quotaRenews: _n, ...settings } = newSessionFields(input, now);
  return settings;
}

/** The `version` a create-or-replace body names (that of a session read), if any. */
export function versionOf(version: unknown): number | undefined {
  if (version === undefined || (typeof version === 'number' && Number.isSafeInteger(version) && version >= 0)) return version;
  throw new InvalidInputError([
    { field: 'version', message: 'must be the version of the session read (a whole number), or left out to create or replace' },
  ]);
}

/** `settings` less those `current` already has as they are (`null`: a field it does not have). */
export function changedSettings(current: StoredSession, settings: SettingsChanges): SettingsChanges {
  const stored = current as unknown as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(settings).filter(([field, value]) => !isDeepStrictEqual(value ?? undefined, stored[field])),
  ) as SettingsChanges;
}

export function checkRatePer(rate: number, per: number): void {
  if (rateWithoutPer(rate, per)) throw new InvalidInputError([{ field: 'per', message: RATE_NEEDS_PER }]);
}
