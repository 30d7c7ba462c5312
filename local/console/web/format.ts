/** How the console writes numbers, windows and times. Pure functions, no DOM. */

const UNITS: readonly [number, string][] = [
  [86_400, 'd'],
  [3_600, 'h'],
  [60, 'min'],
  [1, 's'],
];

/**
 * A window length in the largest unit that divides it.
 *
 * @example
 * duration(3600); // '1 h'
 * duration(90);   // '90 s'
 */
export function duration(seconds: number): string {
  if (seconds === 0) return '0 s';
  const [size, unit] = UNITS.find(([size]) => seconds % size === 0) ?? [1, 's'];
  return `${seconds / size} ${unit}`;
}

/** A rate limit for people: "5 per 10 s", or "no rate limit". */
export function rateText(limits: { readonly rate?: number; readonly per?: number }): string {
  if (limits.rate === undefined) return 'not set';
  return limits.rate === 0 ? 'no rate limit' : `${limits.rate} per ${duration(limits.per ?? 0)}`;
}

/** A quota for people: "100 per 1 h", "unlimited", "none allowed". */
export function quotaText(limits: { readonly quotaMax?: number; readonly quotaRenewalRate?: number }): string {
  if (limits.quotaMax === undefined) return 'not set';
  if (limits.quotaMax === -1) return 'unlimited';
  if (limits.quotaMax === 0) return 'none allowed (quotaMax 0)';
  const renewal = limits.quotaRenewalRate ?? 0;
  return renewal === 0 ? `${limits.quotaMax}, never renews` : `${limits.quotaMax} per ${duration(renewal)}`;
}

/** Epoch seconds as a UTC time, "2026-12-06 14:05:00 UTC"; 0 reads as `zero`. */
export function utcTime(epochSeconds: number, zero = 'never'): string {
  if (epochSeconds === 0) return zero;
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** The sum of a day's denials, every reason together. */
export function deniedTotal(denied: Readonly<Record<string, number>>): number {
  return Object.values(denied).reduce((sum, n) => sum + n, 0);
}

/** A key's state: inactive, expired at `now` (epoch s), or active. */
export function keyStatus(key: { readonly isInactive: boolean; readonly expires: number }, now: number): 'inactive' | 'expired' | 'active' {
  if (key.isInactive) return 'inactive';
  return key.expires !== 0 && now >= key.expires ? 'expired' : 'active';
}

/** The first characters of a key id, enough to tell keys apart in a list. */
export function shortId(keyId: string): string {
  return `${keyId.slice(0, 12)}…`;
}
