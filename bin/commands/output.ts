import { limitRows, limitSources, quotaInForceShort, rateInForceShort, type LimitsJson } from './limits-output.ts';
import { formatDuration } from './parse.ts';

/**
 * Human output: small, hand-rolled tables. `--json` bypasses all of this and prints the
 * admin API's answer as it is.
 */

type Row = readonly string[];

/**
 * Columns padded to their widest cell, two spaces apart, no trailing spaces.
 *
 * @example
 * table(['ID', 'NAME'], [['gold', 'Gold plan']]);
 * // 'ID    NAME\ngold  Gold plan'
 */
export function table(headers: Row, rows: readonly Row[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Two columns, label and value, for one object. */
export function fields(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`.trimEnd()).join('\n');
}

/** The parts of a session (or policy) the formatters read; the admin API's JSON. */
export interface Limited {
  readonly rate?: number;
  readonly per?: number;
  readonly quotaMax?: number;
  readonly quotaRemaining?: number;
  readonly quotaRenewalRate?: number;
  readonly quotaRenews?: number;
  readonly accessRights?: Record<string, { versions?: string[]; allowedUrls?: Array<{ url: string; methods?: string[] }> }>;
  readonly tags?: string[];
  readonly metaData?: Record<string, unknown>;
  readonly isInactive?: boolean;
}

export interface SessionJson extends Limited {
  readonly keyId: string;
  readonly alias?: string;
  readonly expires: number;
  readonly applyPolicies?: string[];
  readonly createdAt?: number;
  readonly updatedAt?: number;
  readonly version?: number;
  /** The limits in force (after policies), each with its source; read-only. */
  readonly limits?: LimitsJson;
}

export interface PolicyJson extends Limited {
  readonly id: string;
  readonly name?: string;
  readonly keyExpiresIn?: number;
  readonly version?: number;
  readonly updatedAt?: number;
}

export function isoTime(epoch: number | undefined): string {
  return epoch === undefined ? '-' : new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
}

export function rateText(s: Limited): string {
  return s.rate ? `${s.rate} per ${formatDuration(s.per ?? 0)}` : 'none';
}

/** `7/10` (remaining of max), or `unlimited`. */
export function quotaShort(s: Limited): string {
  if (s.quotaMax === undefined || s.quotaMax < 0) return 'unlimited';
  return s.quotaRemaining === undefined ? String(s.quotaMax) : `${s.quotaRemaining}/${s.quotaMax}`;
}

function quotaLong(s: Limited): string {
  if (s.quotaMax === undefined || s.quotaMax < 0) return 'unlimited';
  const window = s.quotaRenewalRate ? `every ${formatDuration(s.quotaRenewalRate)}` : 'never renews';
  const left = s.quotaRemaining === undefined ? `${s.quotaMax}` : `${s.quotaRemaining} of ${s.quotaMax} left`;
  const renews = s.quotaRenewalRate && s.quotaRenews !== undefined ? `, renews ${isoTime(s.quotaRenews)}` : '';
  return `${left} (${window}${renews})`;
}

export function expiresText(expires: number, now = Math.floor(Date.now() / 1000)): string {
  if (expires === 0) return 'never';
  return expires <= now ? `${isoTime(expires)} (expired)` : `${isoTime(expires)} (in ${formatDuration(expires - now)})`;
}

export function statusText(s: { isInactive?: boolean; expires?: number }, now = Math.floor(Date.now() / 1000)): string {
  if (s.isInactive) return 'inactive';
  if (s.expires !== undefined && s.expires > 0 && now >= s.expires) return 'expired';
  return 'active';
}

function rightsText(rights: Limited['accessRights']): string {
  const entries = Object.entries(rights ?? {});
  if (entries.length === 0) return 'every API';
  return entries
    .map(([api, right]) => {
      const parts = [
        right.versions?.length ? `stages ${right.versions.join(',')}` : '',
        ...(right.allowedUrls ?? []).map((u) => `${u.methods?.join(',') || '*'} ${u.url}`),
      ];
      const detail = parts.filter(Boolean).join('; ');
      return detail ? `${api} (${detail})` : api;
    })
    .join(', ');
}

const list = (items: readonly string[] | undefined): string => (items?.length ? items.join(', ') : '-');
const meta = (data: Record<string, unknown> | undefined): string =>
  Object.keys(data ?? {}).length
    ? Object.entries(data!)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')
    : '-';

/**
 * A key, field by field. Its quota and rate limit are those in force (its policies' when it
 * has any), each with its source; the key's own values are shown apart when they differ.
 */
export function sessionFields(s: SessionJson): string {
  const limits: Array<readonly [string, string]> =
    s.limits === undefined
      ? [
          ['quota', quotaLong(s)],
          ['rate limit', rateText(s)],
        ]
      : [...limitRows(s.limits), ...ownLimitRows(s, s.limits)];
  return fields([
    ['keyId', s.keyId],
    ['alias', s.alias ?? '-'],
    ['status', statusText(s)],
    ['expires', expiresText(s.expires)],
    ...limits,
    ['access rights', rightsText(s.accessRights)],
    ['policies', list(s.applyPolicies)],
    ['tags', list(s.tags)],
    ['metadata', meta(s.metaData)],
    ['created', isoTime(s.createdAt)],
    ['updated', isoTime(s.updatedAt)],
    ['version', String(s.version ?? '-')],
  ]);
}

/** The key's own limits, when some of them are not the ones in force (a policy overrides them). */
function ownLimitRows(s: SessionJson, limits: LimitsJson): Array<readonly [string, string]> {
  const overridden = limits.rate.source !== 'key' || limits.quotaMax.source !== 'key' || limits.quotaRenewalRate.source !== 'key';
  const differs =
    s.rate !== limits.rate.value ||
    (s.rate !== 0 && s.per !== limits.per.value) ||
    s.quotaMax !== limits.quotaMax.value ||
    s.quotaRenewalRate !== limits.quotaRenewalRate.value;
  if (!overridden || !differs) return [];
  const quota =
    s.quotaMax === undefined || s.quotaMax < 0
      ? 'unlimited'
      : `${s.quotaMax}${s.quotaRenewalRate ? ` every ${formatDuration(s.quotaRenewalRate)}` : ''}`;
  return [["key's own", `quota ${quota}, rate ${rateText(s)} (overridden by its policies)`]];
}

/** Keys, a row each: the quota and rate in force and where they come from. */
export function sessionTable(items: readonly SessionJson[]): string {
  return table(
    ['KEY ID', 'ALIAS', 'QUOTA', 'RATE', 'FROM', 'EXPIRES', 'STATUS'],
    items.map((s) => [
      s.keyId,
      s.alias ?? '-',
      s.limits ? quotaInForceShort(s.limits) : quotaShort(s),
      s.limits ? rateInForceShort(s.limits) : rateText(s),
      s.limits ? limitSources(s.limits) : 'key',
      s.expires === 0 ? 'never' : isoTime(s.expires),
      s.limits?.unenforceablePolicies?.length ? 'denied (policy missing)' : statusText(s),
    ]),
  );
}

export function policyFields(p: PolicyJson): string {
  return fields([
    ['id', p.id],
    ['name', p.name ?? '-'],
    ['status', p.isInactive ? 'inactive' : 'active'],
    ['quota', quotaLong({ ...p, quotaRemaining: undefined } as Limited)],
    ['rate limit', rateText(p)],
    ['access rights', rightsText(p.accessRights)],
    ['key expires in', p.keyExpiresIn ? formatDuration(p.keyExpiresIn) : 'never'],
    ['tags', list(p.tags)],
    ['metadata', meta(p.metaData)],
    ['updated', isoTime(p.updatedAt)],
    ['version', String(p.version ?? '-')],
  ]);
}

export function policyTable(items: readonly PolicyJson[]): string {
  return table(
    ['ID', 'NAME', 'QUOTA', 'RATE', 'KEY EXPIRES IN', 'STATUS', 'VERSION'],
    items.map((p) => [
      p.id,
      p.name ?? '-',
      p.quotaMax === undefined || p.quotaMax < 0
        ? 'unlimited'
        : `${p.quotaMax}${p.quotaRenewalRate ? `/${formatDuration(p.quotaRenewalRate)}` : ''}`,
      rateText(p),
      p.keyExpiresIn ? formatDuration(p.keyExpiresIn) : 'never',
      p.isInactive ? 'inactive' : 'active',
      String(p.version ?? '-'),
    ]),
  );
}

export interface ExplanationJson {
  readonly decision: 'allow' | 'deny';
  readonly reason?: string;
  readonly message?: string;
  readonly checks: Array<{ check: string; outcome: string; detail: string }>;
  readonly effective: { limits: Limited; accessRights: Limited['accessRights']; policies?: { applied: string[]; missing: string[] } };
}

export function explanationText(e: ExplanationJson): string {
  const decision = e.decision === 'allow' ? 'ALLOW' : `DENY  ${e.reason} (${e.message})`;
  const limits = e.effective.limits;
  return [
    `decision  ${decision}`,
    '',
    table(
      ['CHECK', 'OUTCOME', 'DETAIL'],
      e.checks.map((c) => [c.check, c.outcome, c.detail]),
    ),
    '',
    fields([
      ['effective rate limit', rateText(limits)],
      [
        'effective quota',
        limits.quotaMax === undefined || limits.quotaMax < 0
          ? 'unlimited'
          : `${limits.quotaMax}${limits.quotaRenewalRate ? ` every ${formatDuration(limits.quotaRenewalRate)}` : ' (never renews)'}`,
      ],
      ['effective access', rightsText(e.effective.accessRights)],
      ['policies', list(e.effective.policies?.applied)],
      ...(e.effective.policies?.missing.length ? [['missing policies', list(e.effective.policies.missing)] as const] : []),
    ]),
  ].join('\n');
}

export interface UsageJson {
  readonly keyId: string;
  readonly days: ReadonlyArray<{ day: string; allowed: number; denied: Record<string, number> }>;
  readonly totals: { allowed: number; denied: Record<string, number> };
}

/**
 * A key's usage, a row per UTC day (newest first) and a total: allowed, denied, and a column
 * per denial reason seen in the period (the most frequent first).
 *
 * @example
 * DAY         ALLOWED  DENIED  rate_limited
 * 2026-11-29  120      3       3
 * TOTAL       120      3       3
 */
export function usageText(u: UsageJson): string {
  const reasons = Object.keys(u.totals.denied);
  const sum = (denied: Record<string, number>): number => Object.values(denied).reduce((a, b) => a + b, 0);
  const row = (label: string, allowed: number, denied: Record<string, number>): string[] => [
    label,
    String(allowed),
    String(sum(denied)),
    ...reasons.map((reason) => String(denied[reason] ?? 0)),
  ];
  const days = u.days.length;
  return [
    `usage of ${u.keyId}, last ${days} day${days === 1 ? '' : 's'} (UTC)`,
    '',
    table(
      ['DAY', 'ALLOWED', 'DENIED', ...reasons],
      [...u.days.map((d) => row(d.day, d.allowed, d.denied)), row('TOTAL', u.totals.allowed, u.totals.denied)],
    ),
  ].join('\n');
}
