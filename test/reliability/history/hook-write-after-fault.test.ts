import { describe, expect, it } from 'vitest';
import { HistoryModel } from './model.ts';
import type { BatchRequest, Outcome } from './observation.ts';
import { ROUTES } from './routes.ts';
import type { InstanceSpec, KeySettings } from './settings.ts';

/**
 * A hook's write asked by a request that failed closed may still be on its way when the
 * request answers (the hook ran past its deadline while DynamoDB was throttling its write):
 * it lands after the history read the key back (test/integration/hook-write-after-fault.test.ts).
 * The model used to take the read-back as the last word: a `quotaRenewalRate 20` that landed
 * later on a quota that never renewed made the next request past the window's end a
 * "violation", though the window rule renews it (seed 4257: the key read back with 0 after
 * the batch, a new window opened 137 s later). The model now keeps such a write as one that
 * may land at any later moment, until a reset has landed and the key is read back.
 */
const I0: InstanceSpec = { offsetMs: 0, cacheSeconds: 0, renews: false, hooks: true };
const KEY: KeySettings = {
  quotaMax: 3,
  quotaRenewalRate: 0,
  rate: 0,
  per: 0,
  expires: 0,
  isInactive: false,
  accessRights: {},
  applyPolicies: [],
};
const GET = ROUTES[0]!;

function batch(model: HistoryModel, at: number, requests: BatchRequest[], outcomes: Outcome[]) {
  return model.batch({ at, requests, outcomes, lost: 0, settingsAfter: KEY });
}

/** A key of quota 3 that never renews, used up; then one request asks the hook for a renewal rate of 20 s, and is answered `second`. */
function usedUpThenHooked(second: Outcome): HistoryModel {
  const model = new HistoryModel([I0], KEY, 0, 'plan');
  const plain: BatchRequest = { instance: 0, route: GET, who: 'key' };
  const usedUp: Outcome[] = [...Array(3).fill({ allow: true }), { allow: false, reason: 'quota_exceeded' }];
  expect(batch(model, 1000, [plain, plain, plain, plain], usedUp).violations).toEqual([]);
  // Read back after the batch: still 0 (the write had not landed, or never will).
  expect(batch(model, 2000, [{ ...plain, hook: { quotaRenewalRate: 20 } }], [second]).violations).toEqual([]);
  return model;
}

describe('the reference model: a hook write of a request that failed closed', () => {
  it('may land after the read-back: a quota given a renewal rate that way may renew later', () => {
    const model = usedUpThenHooked({ error: 'ERR_PLUGIN' });
    expect(model.inFlight).toEqual([{ quotaRenewalRate: 20 }]);
    const later = batch(model, 139_000, [{ instance: 0, route: GET, who: 'key' }], [{ allow: true }]);
    expect(later.violations).toEqual([]);
  });

  it('still caps it: at most one more window, never more than the quota', () => {
    const model = usedUpThenHooked({ error: 'ERR_PLUGIN' });
    const plain: BatchRequest = { instance: 0, route: GET, who: 'key' };
    const later = batch(model, 139_000, [plain, plain, plain, plain], Array(4).fill({ allow: true }));
    expect(later.violations.join('\n')).toMatch(/4 allowed in scope key, but its quota could grant at most 3/);
  });

  it('cannot land once the request was answered (its write answered first): a renewal is still a violation', () => {
    const model = usedUpThenHooked({ allow: false, reason: 'quota_exceeded' });
    expect(model.inFlight).toEqual([]);
    const later = batch(model, 139_000, [{ instance: 0, route: GET, who: 'key' }], [{ allow: true }]);
    expect(later.violations.join('\n')).toMatch(/1 allowed in scope key, but its quota could grant at most 0/);
  });

  it('cannot land after a reset has landed and the key was read back (the reset moved the version)', () => {
    const model = usedUpThenHooked({ error: 'ERR_PLUGIN' });
    model.reset(3000, true);
    model.landed(KEY);
    expect(model.inFlight).toEqual([]);
    const plain: BatchRequest = { instance: 0, route: GET, who: 'key' };
    expect(batch(model, 4000, [plain, plain, plain], Array(3).fill({ allow: true })).violations).toEqual([]);
    const later = batch(model, 139_000, [plain], [{ allow: true }]);
    expect(later.violations.join('\n')).toMatch(/1 allowed in scope key, but its quota could grant at most 0/);
  });
});
