import type { KeyService } from '../lambdas/admin/key-service.ts';

export interface SeededKeys {
  readonly demo: { key: string; keyId: string };
  readonly expired: { key: string; keyId: string };
}

/**
 * Demo data for `gatepass dev`: a key with a rate limit and an hourly quota, and a key
 * whose session expired a day ago (to see `session_expired`).
 */
export async function seedDemo(keys: KeyService, now = Math.floor(Date.now() / 1000)): Promise<SeededKeys> {
  const demo = await keys.create({
    alias: 'demo',
    rate: 5,
    per: 10,
    quotaMax: 100,
    quotaRenewalRate: 3600,
    metaData: { plan: 'demo' },
    tags: ['demo'],
  });
  const expired = await keys.create({ alias: 'demo-expired', expires: now - 86_400, tags: ['demo'] });
  return { demo: { key: demo.key, keyId: demo.keyId }, expired: { key: expired.key, keyId: expired.keyId } };
}
