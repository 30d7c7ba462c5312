import { describe, expect, it } from 'vitest';
import { parseDecisionLine } from '../../../lambdas/core/usage/decision-line.ts';
import { tally } from '../../../lambdas/core/usage/tally.ts';
import { usageDayOf, usageTtl } from '../../../lambdas/core/usage/usage-item.ts';

const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);
const line = (fields: Record<string, unknown>) =>
  JSON.stringify({ _aws: { CloudWatchMetrics: [] }, keyId: KEY_A, day: '2026-11-29', outcome: 'deny', reason: 'rate_limited', ...fields });

describe('parseDecisionLine', () => {
  it('reads the key id, day, outcome and reason of a decision line', () => {
    expect(parseDecisionLine(line({}))).toEqual({ keyId: KEY_A, day: '2026-11-29', outcome: 'deny', reason: 'rate_limited' });
    expect(parseDecisionLine(line({ outcome: 'allow', reason: 'allowed' }))).toMatchObject({ outcome: 'allow' });
  });

  it.each([
    [
      'a log message',
      JSON.stringify({
        level: 'INFO',
        message: 'request denied',
        keyId: KEY_A,
        reason: 'rate_limited',
        day: '2026-11-29',
        outcome: 'deny',
      }),
    ],
    ['a fault line', line({ outcome: 'fault', reason: 'authorizer_failure' })],
    ['a line without a key id', line({ keyId: undefined })],
    ['a key id that is not a SHA-256', line({ keyId: 'gp_raw-key' })],
    ['an impossible day', line({ day: '2026-13-45' })],
    ['a reason that is not snake_case', line({ reason: 'Rate Limited' })],
    ['an allow with a denial reason', line({ outcome: 'allow' })],
    ['text', 'START RequestId: 6f2c'],
    ['broken JSON', '{"_aws": '],
  ])('ignores %s', (_, message) => {
    expect(parseDecisionLine(message)).toBeUndefined();
  });
});

describe('tally', () => {
  it('adds decisions up per key and day, in the same order whatever the order of the decisions', () => {
    const decisions = [
      { keyId: KEY_B, day: '2026-11-29', outcome: 'allow', reason: 'allowed' },
      { keyId: KEY_A, day: '2026-11-29', outcome: 'deny', reason: 'rate_limited' },
      { keyId: KEY_A, day: '2026-11-28', outcome: 'allow', reason: 'allowed' },
      { keyId: KEY_A, day: '2026-11-29', outcome: 'allow', reason: 'allowed' },
      { keyId: KEY_A, day: '2026-11-29', outcome: 'deny', reason: 'rate_limited' },
    ] as const;

    const forward = tally(decisions);
    const backward = tally([...decisions].reverse());

    expect(forward.map((t) => [t.keyId.slice(0, 1), t.day, Object.fromEntries(t.counts)])).toEqual([
      ['a', '2026-11-28', { allowed: 1 }],
      ['a', '2026-11-29', { allowed: 1, denied_rate_limited: 2 }],
      ['b', '2026-11-29', { allowed: 1 }],
    ]);
    expect(backward.map((t) => [t.keyId, t.day, [...t.counts]])).toEqual(forward.map((t) => [t.keyId, t.day, [...t.counts]]));
  });
});

describe('usage items', () => {
  it('expire 35 days after the end of their UTC day', () => {
    expect(usageTtl('2026-01-01', 35)).toBe(Date.UTC(2026, 1, 6) / 1000);
  });

  it('read as nothing once past their TTL (DynamoDB deletes expired items late)', () => {
    const item = { allowed: 3, denied_quota_exceeded: 1, ttl: 1000 };

    expect(usageDayOf('2026-11-29', item, 999)).toEqual({ day: '2026-11-29', allowed: 3, denied: { quota_exceeded: 1 } });
    expect(usageDayOf('2026-11-29', item, 1000)).toEqual({ day: '2026-11-29', allowed: 0, denied: {} });
  });
});
