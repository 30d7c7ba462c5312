import { describe, expect, it } from 'vitest';
import {
  explanationText,
  fields,
  policyTable,
  sessionFields,
  sessionTable,
  table,
  type SessionJson,
} from '../../../bin/commands/output.ts';

const NOW = Math.floor(Date.now() / 1000);

function session(overrides: Partial<SessionJson> = {}): SessionJson {
  return {
    keyId: 'a'.repeat(64),
    alias: 'ci',
    expires: 0,
    quotaMax: 10,
    quotaRemaining: 7,
    quotaRenewalRate: 3600,
    quotaRenews: 1_900_000_000,
    rate: 5,
    per: 60,
    accessRights: {},
    applyPolicies: [],
    metaData: { plan: 'gold' },
    tags: ['a', 'b'],
    isInactive: false,
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_100,
    version: 3,
    ...overrides,
  };
}

describe('table', () => {
  it('pads every column to its widest cell, two spaces apart, without trailing spaces', () => {
    expect(
      table(
        ['ID', 'NAME', 'X'],
        [
          ['gold', 'Gold plan', ''],
          ['b', 'B', 'y'],
        ],
      ),
    ).toBe(['ID    NAME       X', 'gold  Gold plan', 'b     B          y'].join('\n'));
  });

  it('lines labels up in a two-column field list', () => {
    expect(
      fields([
        ['a', '1'],
        ['long label', '2'],
      ]),
    ).toBe('a           1\nlong label  2');
  });
});

describe('session output', () => {
  it('shows a session field by field in words', () => {
    const text = sessionFields(
      session({ accessRights: { api1: { versions: ['prod'], allowedUrls: [{ url: '/pets', methods: ['GET'] }, { url: '/x' }] } } }),
    );

    expect(text.split('\n')).toEqual([
      `keyId          ${'a'.repeat(64)}`,
      'alias          ci',
      'status         active',
      'expires        never',
      'quota          7 of 10 left (every 1h, renews 2030-03-17T17:46:40Z)',
      'rate limit     5 per 1m',
      'access rights  api1 (stages prod; GET /pets; * /x)',
      'policies       -',
      'tags           a, b',
      'metadata       plan=gold',
      'created        2023-11-14T22:13:20Z',
      'updated        2023-11-14T22:15:00Z',
      'version        3',
    ]);
  });

  it('says when a key is expired, inactive or unlimited', () => {
    const expired = sessionFields(session({ expires: NOW - 10, quotaMax: -1, rate: 0 }));
    const inactive = sessionTable([session({ isInactive: true })]);

    expect(expired).toMatch(/^status +expired$/m);
    expect(expired).toMatch(/^expires +\S+ \(expired\)$/m);
    expect(expired).toMatch(/^quota +unlimited$/m);
    expect(expired).toMatch(/^rate limit +none$/m);
    expect(inactive.split('\n')[1]).toMatch(/ inactive$/);
  });

  it('lists sessions one per row', () => {
    const rows = sessionTable([
      session(),
      session({ keyId: 'b'.repeat(64), alias: undefined, expires: 1_900_000_000, quotaMax: -1 }),
    ]).split('\n');

    expect(rows[0]!.split(/\s{2,}/)).toEqual(['KEY ID', 'ALIAS', 'QUOTA', 'RATE', 'FROM', 'EXPIRES', 'STATUS']);
    expect(rows[1]!.split(/\s{2,}/)).toEqual(['a'.repeat(64), 'ci', '7/10', '5 per 1m', 'key', 'never', 'active']);
    expect(rows[2]!.split(/\s{2,}/)).toEqual(['b'.repeat(64), '-', 'unlimited', '5 per 1m', 'key', '2030-03-17T17:46:40Z', 'active']);
  });
});

describe('policy and explain output', () => {
  it('lists policies one per row', () => {
    const rows = policyTable([
      { id: 'gold', name: 'Gold', rate: 0, quotaMax: 1000, quotaRenewalRate: 86_400, keyExpiresIn: 0, isInactive: true, version: 2 },
    ]).split('\n');

    expect(rows[1]!.split(/\s{2,}/)).toEqual(['gold', 'Gold', '1000/1d', 'none', 'never', 'inactive', '2']);
  });

  it('shows the decision, each check and the effective settings', () => {
    const text = explanationText({
      decision: 'deny',
      reason: 'quota_exceeded',
      message: 'Quota exceeded',
      checks: [
        { check: 'inactive', outcome: 'pass', detail: 'the key is active' },
        { check: 'quota', outcome: 'fail', detail: 'quota of 10 used up' },
      ],
      effective: {
        limits: { rate: 0, per: 0, quotaMax: 10, quotaRenewalRate: 0 },
        accessRights: {},
        policies: { applied: ['gold'], missing: [] },
      },
    });

    expect(text.split('\n').slice(0, 5)).toEqual([
      'decision  DENY  quota_exceeded (Quota exceeded)',
      '',
      'CHECK     OUTCOME  DETAIL',
      'inactive  pass     the key is active',
      'quota     fail     quota of 10 used up',
    ]);
    expect(text).toMatch(/^effective quota +10 \(never renews\)$/m);
    expect(text).toMatch(/^policies +gold$/m);
  });
});
