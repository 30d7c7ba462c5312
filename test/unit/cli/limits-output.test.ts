import { describe, expect, it } from 'vitest';
import { overriddenWarnings, type LimitsJson } from '../../../bin/commands/limits-output.ts';
import { sessionFields, sessionTable, type SessionJson } from '../../../bin/commands/output.ts';

const gold = (source = 'policy:gold'): LimitsJson => ({
  rate: { value: 10, source },
  per: { value: 1, source },
  quotaMax: { value: 10_000, source },
  quotaRenewalRate: { value: 2_592_000, source },
  quotaRemaining: { value: 9_999, source },
  quotaRenews: { value: 1_900_000_000, source },
});

/** A key with quota 500 of its own, under policy gold (10000 every 30d, 10 per 1s). */
function goldKey(limits: LimitsJson = gold()): SessionJson {
  return {
    keyId: 'a'.repeat(64),
    alias: 'acme',
    expires: 0,
    quotaMax: 500,
    quotaRemaining: 9_999,
    quotaRenewalRate: 0,
    quotaRenews: 1_900_000_000,
    rate: 0,
    per: 0,
    applyPolicies: ['gold'],
    version: 2,
    limits,
  };
}

describe('limits in force in the CLI output', () => {
  it("shows a key's quota and rate limit in force with their source, and its own apart", () => {
    const text = sessionFields(goldKey());

    expect(text).toMatch(/^quota +9999 of 10000 left \(every 30d, renews 2030-03-17T17:46:40Z\), from policy gold$/m);
    expect(text).toMatch(/^rate limit +10 per 1s, from policy gold$/m);
    expect(text).toMatch(/^key's own +quota 500, rate none \(overridden by its policies\)$/m);
  });

  it("shows an API's own limits and warns of policies that deny everything", () => {
    const limits: LimitsJson = { ...gold('key'), apis: { pay: gold('api:pay') }, unenforceablePolicies: ['gone'] };

    const text = sessionFields({ ...goldKey(limits), quotaMax: 10_000, quotaRenewalRate: 2_592_000, rate: 10, per: 1 });

    expect(text).toMatch(/^API pay +quota 9999 of 10000 left .*, from API pay; rate 10 per 1s, from API pay$/m);
    expect(text).toMatch(/^warning +policies gone missing/m);
    expect(text).not.toMatch(/key's own/);
  });

  it('lists the limits in force and where they come from', () => {
    const row = sessionTable([goldKey()])
      .split('\n')[1]!
      .split(/\s{2,}/);

    expect(row).toEqual(['a'.repeat(64), 'acme', '9999/10000', '10 per 1s', 'policy:gold', 'never', 'active']);
  });

  it('warns of each limit set that a policy overrides, and of nothing else', () => {
    expect(overriddenWarnings({ quotaMax: 500, alias: 'x' }, gold())).toEqual([
      'quotaMax 500 is set on the key, but policy gold overrides it: 10000 is in force',
    ]);
    expect(overriddenWarnings({ quotaMax: 500 }, gold('key'))).toEqual([]);
    expect(overriddenWarnings({ quotaMax: 500 }, undefined)).toEqual([]);
  });
});
