import { formatDuration } from './parse.ts';

/**
 * The limits in force of a key — the admin API's read-only `limits` object — as the CLI
 * shows them: the values its requests are checked against once its policies are applied,
 * each with where it comes from, and a warning when a policy overrides what was just set.
 */

/** One value in force and its source: `key`, `policy:<id>` or `api:<apiId>`. */
export interface InForceJson {
  readonly value: number;
  readonly source: string;
}

export interface ScopeLimitsJson {
  readonly rate: InForceJson;
  readonly per: InForceJson;
  readonly quotaMax: InForceJson;
  readonly quotaRenewalRate: InForceJson;
  readonly quotaRemaining: InForceJson;
  readonly quotaRenews: InForceJson;
}

export interface LimitsJson extends ScopeLimitsJson {
  readonly apis?: Record<string, ScopeLimitsJson>;
  readonly unenforceablePolicies?: string[];
}

/** The limit fields a key sets itself, which its policies may override. */
const OWN_LIMIT_FIELDS = ['rate', 'per', 'quotaMax', 'quotaRenewalRate'] as const;

/** `policy:gold` → `policy gold`; `api:pay` → `API pay`; `key` → `key`. */
export function sourceText(source: string): string {
  if (source.startsWith('policy:')) return `policy ${source.slice('policy:'.length)}`;
  if (source.startsWith('api:')) return `API ${source.slice('api:'.length)}`;
  return source;
}

/** The sources of some values, each once: `policy gold` or `policy fast, policy long`. */
function sourcesText(values: readonly InForceJson[]): string {
  return [...new Set(values.map((v) => sourceText(v.source)))].join(', ');
}

function isoTime(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
}

/** `10 per 1s, from policy gold` or `none, from key`. */
export function rateInForce(l: ScopeLimitsJson): string {
  const rate = l.rate.value > 0 ? `${l.rate.value} per ${formatDuration(l.per.value)}` : 'none';
  return `${rate}, from ${sourcesText([l.rate])}`;
}

/** `9999 of 10000 left (every 30d, renews …), from policy gold` or `unlimited, from key`. */
export function quotaInForce(l: ScopeLimitsJson): string {
  const from = `from ${sourcesText([l.quotaMax, l.quotaRenewalRate])}`;
  if (l.quotaMax.value < 0) return `unlimited, ${from}`;
  const window = l.quotaRenewalRate.value > 0 ? `every ${formatDuration(l.quotaRenewalRate.value)}` : 'never renews';
  const renews = l.quotaRenewalRate.value > 0 && l.quotaRenews.value > 0 ? `, renews ${isoTime(l.quotaRenews.value)}` : '';
  return `${l.quotaRemaining.value} of ${l.quotaMax.value} left (${window}${renews}), ${from}`;
}

/** `9999/10000` or `unlimited`, for a table cell. */
export function quotaInForceShort(l: ScopeLimitsJson): string {
  return l.quotaMax.value < 0 ? 'unlimited' : `${l.quotaRemaining.value}/${l.quotaMax.value}`;
}

/** `10 per 1s` or `none`, for a table cell. */
export function rateInForceShort(l: ScopeLimitsJson): string {
  return l.rate.value > 0 ? `${l.rate.value} per ${formatDuration(l.per.value)}` : 'none';
}

/** Where the key's rate and quota come from, for a table cell: `policy:gold`, `key`, or both. */
export function limitSources(l: ScopeLimitsJson): string {
  return [...new Set([l.rate.source, l.quotaMax.source, l.quotaRenewalRate.source])].join(',');
}

/** The label/value rows of the limits in force: the key's, each API's own, and policies that deny everything. */
export function limitRows(l: LimitsJson): Array<readonly [string, string]> {
  const rows: Array<readonly [string, string]> = [
    ['quota', quotaInForce(l)],
    ['rate limit', rateInForce(l)],
  ];
  for (const [apiId, api] of Object.entries(l.apis ?? {})) {
    rows.push([`API ${apiId}`, `quota ${quotaInForce(api)}; rate ${rateInForce(api)}`]);
  }
  if (l.unenforceablePolicies?.length) {
    rows.push(['warning', `policies ${l.unenforceablePolicies.join(', ')} missing or not applicable together: every request is denied`]);
  }
  return rows;
}

/**
 * Warnings for limit fields a create or update set that the limits in force do not take
 * from the key: a policy sets them instead.
 *
 * @example
 * overriddenWarnings({ quotaMax: 500 }, limits);
 * // ['quotaMax 500 is set on the key, but policy gold overrides it: 10000 is in force']
 */
export function overriddenWarnings(body: Readonly<Record<string, unknown>>, limits: LimitsJson | undefined): string[] {
  if (limits === undefined) return [];
  const warnings: string[] = [];
  for (const field of OWN_LIMIT_FIELDS) {
    const set = body[field];
    const inForce = limits[field];
    if (set === undefined || inForce.source === 'key') continue;
    warnings.push(
      `${field} ${String(set)} is set on the key, but ${sourceText(inForce.source)} overrides it: ${inForce.value} is in force`,
    );
  }
  return warnings;
}
