import { describe, expect, it } from 'vitest';
import { fieldErrors } from '../../../local/console/web/field-errors.ts';
import { deniedTotal, duration, keyStatus, quotaText, rateText, utcTime } from '../../../local/console/web/format.ts';

describe('the console formats', () => {
  it('writes windows in the largest unit that divides them', () => {
    expect([0, 1, 90, 120, 3600, 86_400, 2_592_000].map(duration)).toEqual(['0 s', '1 s', '90 s', '2 min', '1 h', '1 d', '30 d']);
  });

  it('writes rate limits and quotas for people', () => {
    expect(rateText({ rate: 5, per: 10 })).toBe('5 per 10 s');
    expect(rateText({ rate: 0, per: 0 })).toBe('no rate limit');
    expect(rateText({})).toBe('not set');
    expect(quotaText({ quotaMax: 100, quotaRenewalRate: 3600 })).toBe('100 per 1 h');
    expect(quotaText({ quotaMax: 100, quotaRenewalRate: 0 })).toBe('100, never renews');
    expect(quotaText({ quotaMax: -1 })).toBe('unlimited');
    expect(quotaText({ quotaMax: 0 })).toBe('none allowed (quotaMax 0)');
  });

  it('writes times in UTC, and a key status from its switch and expiry', () => {
    expect(utcTime(1_765_000_000)).toBe('2025-12-06 05:46:40 UTC');
    expect(utcTime(0)).toBe('never');
    expect(keyStatus({ isInactive: false, expires: 0 }, 100)).toBe('active');
    expect(keyStatus({ isInactive: false, expires: 100 }, 100)).toBe('expired');
    expect(keyStatus({ isInactive: true, expires: 0 }, 100)).toBe('inactive');
    expect(deniedTotal({ rate_limited: 2, quota_exceeded: 3 })).toBe(5);
  });
});

describe('fieldErrors', () => {
  it('puts each problem with its control, nested paths included, and keeps the rest apart', () => {
    const problems = [
      { field: 'per', message: 'must be greater than 0 when rate is set' },
      { field: 'accessRights.api1.allowedUrls.0.url', message: 'not an RE2 pattern' },
      { field: 'If-Match', message: 'must be a version' },
    ];
    expect(fieldErrors(problems, ['rate', 'per', 'accessRights'])).toEqual({
      byField: { per: ['must be greater than 0 when rate is set'], accessRights: ['api1.allowedUrls.0.url: not an RE2 pattern'] },
      other: [{ field: 'If-Match', message: 'must be a version' }],
    });
  });

  it('does not take a control whose name is only a prefix of the field', () => {
    expect(fieldErrors([{ field: 'perApi', message: 'x' }], ['per']).other).toHaveLength(1);
  });
});
