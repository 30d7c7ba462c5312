import { describe, expect, it } from 'vitest';
import { limitSources } from '../../../local/console/web/limit-sources.ts';

const demo = { rate: 5, per: 10, quotaMax: 100, quotaRenewalRate: 3600 };

describe('limitSources', () => {
  it("names the key's own settings when it applies no policy", () => {
    expect(limitSources([], [], demo)).toEqual([
      { limit: 'rate limit', value: '5 per 10 s', source: "this key's own settings" },
      { limit: 'quota', value: '100 per 1 h', source: "this key's own settings" },
    ]);
  });

  it('names the policy that sets a limit, and the most generous of several', () => {
    const policies = [
      { id: 'silver', rate: 5, per: 10, quotaMax: 50 },
      { id: 'gold', rate: 2, per: 10, quotaMax: 100 },
    ];
    const rows = limitSources(['silver', 'gold'], policies, demo);
    expect(rows.map((row) => row.source)).toEqual([
      'policy silver: the most generous of silver, gold',
      'policy gold: the most generous of silver, gold',
    ]);
  });

  it("keeps the key's own part when no applied policy takes part in it (partitions)", () => {
    const rows = limitSources(
      ['quota-only'],
      [{ id: 'quota-only', quotaMax: 100, quotaRenewalRate: 3600, partitions: { quota: true } }],
      demo,
    );
    expect(rows[0]!.source).toBe("this key's own settings (no applied policy takes part in the rate limit)");
    expect(rows[1]!.source).toBe('policy quota-only');
  });

  it('says when the policies that take part set no limit', () => {
    const rows = limitSources(['acl'], [{ id: 'acl' }], { rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 });
    expect(rows).toEqual([
      { limit: 'rate limit', value: 'no rate limit', source: 'no applied policy sets it (acl take part): no limit' },
      { limit: 'quota', value: 'unlimited', source: 'no applied policy sets it (acl take part): no limit' },
    ]);
  });

  it('says that a missing policy denies every request', () => {
    const rows = limitSources(['gone'], [], { rate: 0, per: 0, quotaMax: 0, quotaRenewalRate: 0 });
    expect(rows[0]!.source).toBe('policy gone is missing: every request is denied');
  });
});
