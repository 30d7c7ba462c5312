import * as z from 'zod';
import { USAGE_DAYS, type UsageReader } from '../core/usage/usage-reader.ts';
import { json } from './http.ts';
import { parseQuery } from './queries.ts';
import type { Route } from './route.ts';

const DAYS_MESSAGE = `must be a whole number from ${USAGE_DAYS.min} to ${USAGE_DAYS.max}`;

/** `GET /keys/{keyId}/usage?days=`: `days` from 1 to 90, 30 by default. */
export const UsageQuerySchema = z.strictObject({
  days: z
    .string()
    .regex(/^[0-9]{1,3}$/, DAYS_MESSAGE)
    .transform(Number)
    .pipe(z.number().min(USAGE_DAYS.min, DAYS_MESSAGE).max(USAGE_DAYS.max, DAYS_MESSAGE))
    .default(USAGE_DAYS.default),
});

/**
 * The usage route: a key's requests per UTC day, newest first — allowed, and denied by
 * reason — with totals (see `UsageReader`). Usage is counted from the authorizer's decision
 * log lines, a moment after each request; a key that does not exist (or no longer does)
 * simply has days of zeros, or the days it was used before it was deleted.
 *
 * 200 `{keyId, days: [{day, allowed, denied: {reason: n}}], totals: {allowed, denied}}`.
 */
export function usageRoutes(usage: UsageReader): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/keys\/(?<keyId>[0-9a-f]{64})\/usage$/,
      handle: async (event, { keyId }) => {
        const { days } = parseQuery(event, UsageQuerySchema);
        return json(200, await usage.read(keyId!, days));
      },
    },
  ];
}
