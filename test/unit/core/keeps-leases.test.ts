import { describe, expect, it } from 'vitest';
import { keepsLeases } from '../../../lambdas/core/store/counter-items.ts';

/**
 * Which changes of a hot key keep the leases on its counter items (moved to the new version)
 * and which delete them: only a change that names no limit, policy, access right or count
 * keeps them, so a lease never outlives the limits and counts it was taken under.
 */
describe('keepsLeases', () => {
  it.each([
    ['a PATCH of metaData', { settings: { metaData: { plan: 'gold' } } }],
    ['a rotation', { settings: { keyIds: { a: 0, b: 1_900_000_000 } } }],
    ['a deactivation, an expiry, tags and an alias removed', { settings: { isInactive: true, expires: 5, tags: ['x'], alias: null } }],
    ['a change that names nothing', {}],
    ['a field left undefined', { settings: { quotaMax: undefined, metaData: {} } }],
  ])('keeps them for %s', (_name, change) => {
    expect(keepsLeases(change)).toBe(true);
  });

  it.each([
    ['a quota', { settings: { quotaMax: 10 } }],
    ['a renewal rate', { settings: { quotaRenewalRate: 60 } }],
    ['a rate', { settings: { rate: 5, per: 1 } }],
    ['policies', { settings: { applyPolicies: ['gold'] } }],
    ['access rights (they hold the per-API limits)', { settings: { accessRights: {} } }],
    ['a count (quotaRemaining)', { counters: { quotaUsed: 3 } }],
    ['a reset', { counters: { quotaUsed: 0, quotaStart: 1 } }],
    ['a per-API count', { counters: { 'quotaUsed@api1': 0 } }],
    ['metaData with a limit', { settings: { metaData: {}, quotaMax: 10 } }],
    ['a setting it does not know', { settings: { somethingNew: 1 } }],
  ])('deletes them for %s', (_name, change) => {
    expect(keepsLeases(change)).toBe(false);
  });
});
