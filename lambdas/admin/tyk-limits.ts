import type { FieldProblem } from '../core/model/input-error.ts';
import { RATE_NEEDS_PER, rateWithoutPer } from '../core/model/limit-rules.ts';

/**
 * Tyk's rate limits and quotas as gatepass's. Tyk reads the same numbers three ways, and so
 * does this mapping:
 * - `key`: a session's own limits. `rate <= 0` is no rate limit, `quota_max <= 0` no quota
 *   (`RedisQuotaExceeded` skips `QuotaMax <= 0`, `gateway/session_manager.go`).
 * - `policy`: a policy's limits, which Tyk merges with other policies'. A rate with
 *   `rate == 0 || per == 0` is not set (`ApplyRateLimits` skips an `emptyRateLimit`); a
 *   negative rate (the Dashboard's "disable rate limiting", -1 per -1) is no limit, and lifts
 *   other policies' limits. `quota_max: 0` is not set (`greaterThanInt64` lets any real
 *   quota beat it); -1 is unlimited. `internal/policy/apply.go`.
 * - `api`: an API's own `limit` (`APILimit`), merged by `applyAPILevelLimits`, where a rate
 *   with no duration (`rate <= 0 || per <= 0`) is no limit and wins, and `quota_max: 0`
 *   loses to any real quota.
 * In gatepass a field left out is not set; `rate: 0` is no rate limit, `quotaMax: -1`
 * unlimited (see `core/policies/merge.ts`).
 */
export type TykLimitKind = 'key' | 'policy' | 'api';

/** Tyk's limit fields, as numbers (the schemas check the types). */
export interface TykLimitNumbers {
  readonly rate?: number | undefined;
  readonly per?: number | undefined;
  readonly quota_max?: number | undefined;
  readonly quota_renewal_rate?: number | undefined;
}

/** gatepass's limit fields; a field left out is not set. */
export interface MappedLimits {
  rate?: number;
  per?: number;
  quotaMax?: number;
  quotaRenewalRate?: number;
}

/**
 * Maps Tyk's limits read as `kind`; bad values are added to `problems`, named `prefix` +
 * the Tyk field.
 *
 * @example
 * tykLimits({ rate: 0, per: 0, quota_max: 0 }, 'policy', [], ''); // {}: this policy sets no limit
 * tykLimits({ rate: -1, per: -1 }, 'policy', [], '');              // { rate: 0 }: no rate limit, lifting others'
 */
export function tykLimits(tyk: TykLimitNumbers, kind: TykLimitKind, problems: FieldProblem[], prefix: string): MappedLimits {
  const out: MappedLimits = {};
  // An API limit is set as a whole: an absent rate is Tyk's zero value, no rate limit.
  if (kind === 'api' || tyk.rate !== undefined || tyk.per !== undefined)
    Object.assign(out, mapRate(tyk.rate ?? 0, tyk.per ?? 0, kind, problems, prefix));
  const quotaMax = tyk.quota_max;
  if (kind === 'key') {
    if (quotaMax !== undefined) out.quotaMax = quotaMax <= 0 ? -1 : quotaMax;
    if (tyk.quota_renewal_rate !== undefined) out.quotaRenewalRate = Math.max(0, tyk.quota_renewal_rate);
  } else {
    if (quotaMax !== undefined && quotaMax !== 0) out.quotaMax = quotaMax < 0 ? -1 : quotaMax;
    if (tyk.quota_renewal_rate !== undefined && tyk.quota_renewal_rate > 0) out.quotaRenewalRate = tyk.quota_renewal_rate;
  }
  return out;
}

function mapRate(rate: number, per: number, kind: TykLimitKind, problems: FieldProblem[], prefix: string): MappedLimits {
  if (kind === 'policy' && (rate === 0 || per === 0)) return {};
  if (kind === 'key' && rate <= 0) return { rate: 0, per: 0 };
  if (kind !== 'key' && (rate <= 0 || per <= 0)) return { rate: 0 }; // no duration: no limit, and it wins a merge
  if (rateWithoutPer(rate, per)) {
    problems.push({ field: `${prefix}per`, message: RATE_NEEDS_PER });
    return {};
  }
  // Tyk's rate and per are floats: scale a fraction to whole requests per whole seconds.
  for (let scale = 1; scale <= 1000; scale++) {
    const r = rate * scale;
    const p = per * scale;
    if (isWhole(r) && isWhole(p)) return { rate: Math.round(r), per: Math.round(p) };
  }
  problems.push({ field: `${prefix}rate`, message: 'rate and per must be whole numbers or simple fractions (such as 0.5)' });
  return {};
}

function isWhole(value: number): boolean {
  return Math.abs(value - Math.round(value)) < 1e-9 * Math.max(1, Math.abs(value));
}
