import { describe, expect, it } from 'vitest';
import { decide } from '../../../lambdas/core/request/decide.ts';
import { deny } from '../../../lambdas/core/request/decision.ts';
import { DenialMemory } from '../../../lambdas/core/request/denial-memory.ts';
import { leaseTag, olderTag } from '../../../lambdas/core/store/lease-tag.ts';
import type { StoredSession } from '../../../lambdas/core/store/item.ts';
import { requestWith } from '../../support/pipeline.ts';

const NOW = 1_800_000_000_000;

/** A key with a rate limit of 2 a minute, both used in a window that started 50 s ago. */
const session = (overrides: Partial<StoredSession> = {}): StoredSession =>
  ({
    pk: 'key#abc',
    keyId: 'abc',
    incarnation: 'i1',
    version: 3,
    createdAt: 0,
    updatedAt: 0,
    expires: 0,
    isInactive: false,
    quotaMax: -1,
    quotaRenewalRate: 0,
    rate: 2,
    per: 60,
    accessRights: {},
    applyPolicies: [],
    metaData: {},
    tags: [],
    rateUsed: 2,
    rateStart: NOW - 50_000,
    ...overrides,
  }) as StoredSession;

function denied(item: StoredSession, nowMs: number) {
  const verdict = decide({ session: item, countersKnown: true, policies: [], target: requestWith('k'), nowMs });
  if (verdict.allow) throw new Error('expected a denial');
  return { verdict, denial: deny(verdict.reason, verdict.context) };
}

describe('DenialMemory', () => {
  it('repeats a denial only from the second in a row, for at most half a second', () => {
    const memory = new DenialMemory();
    const item = session();
    const first = denied(item, NOW);
    memory.remember(item, first.verdict, first.denial, NOW);
    expect(memory.get(item, 'key', NOW + 10)).toBeUndefined(); // denied once: asked again (a reset is seen at once)
    memory.remember(item, first.verdict, first.denial, NOW + 20);
    expect(memory.get(item, 'key', NOW + 30)).toEqual(first.denial);
    expect(memory.get(item, 'key', NOW + 499)).toEqual(first.denial);
    expect(memory.get(item, 'key', NOW + 500)).toBeUndefined();
  });

  it('never repeats past the end of the window that denied, nor for other settings, another scope or key', () => {
    const memory = new DenialMemory();
    const item = session({ rateStart: NOW - 59_800 }); // the window ends in 200 ms
    const { verdict, denial } = denied(item, NOW);
    memory.remember(item, verdict, denial, NOW);
    memory.remember(item, verdict, denial, NOW);
    expect(memory.get(item, 'key', NOW + 199)).toEqual(denial);
    expect(memory.get(item, 'key', NOW + 200)).toBeUndefined();
    memory.remember(item, verdict, denial, NOW);
    memory.remember(item, verdict, denial, NOW);
    expect(memory.get({ ...item, version: 4 }, 'key', NOW + 1)).toBeUndefined();
    expect(memory.get({ ...item, incarnation: 'i2' }, 'key', NOW + 1)).toBeUndefined();
    expect(memory.get(item, { apiId: 'payments' }, NOW + 1)).toBeUndefined();
    expect(memory.get({ ...item, pk: 'key#other' }, 'key', NOW + 1)).toBeUndefined();
  });

  it('remembers nothing when turned off, and nothing but limit denials', () => {
    const off = new DenialMemory(0);
    const item = session();
    const { verdict, denial } = denied(item, NOW);
    off.remember(item, verdict, denial, NOW);
    off.remember(item, verdict, denial, NOW);
    expect(off.get(item, 'key', NOW)).toBeUndefined();

    const memory = new DenialMemory();
    const inactive = session({ isInactive: true });
    const other = denied(inactive, NOW);
    memory.remember(inactive, other.verdict, other.denial, NOW);
    memory.remember(inactive, other.verdict, other.denial, NOW);
    expect(memory.get(inactive, 'key', NOW)).toBeUndefined();
  });
});

describe('lease tags', () => {
  it('name the policies and their versions in one order', () => {
    expect(leaseTag([])).toBe('');
    expect(
      leaseTag([
        { id: 'gold', version: 3 },
        { id: 'api-a', version: 12 },
      ]),
    ).toBe('api-a:12,gold:3');
  });

  it('say which view of the policies is older: a lower version of a policy both name', () => {
    expect(olderTag('gold:3', 'gold:4')).toBe(true);
    expect(olderTag('gold:4', 'gold:3')).toBe(false);
    expect(olderTag('a:1,gold:4', 'a:2,gold:4')).toBe(true);
    expect(olderTag('gold:4', 'silver:1')).toBe(false); // nothing in common: not older (it takes over)
    expect(olderTag('', 'gold:1')).toBe(false);
    // Versions compare as numbers, not strings.
    expect(olderTag('gold:9', 'gold:10')).toBe(true);
  });
});
