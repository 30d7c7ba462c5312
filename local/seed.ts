import type { KeyService } from '../lambdas/admin/key-service.ts';

/** The demo keys: created now (their raw keys, shown once), or found from an earlier run. */
export type SeededKeys =
  | { readonly demo: { key: string; keyId: string }; readonly expired: { key: string; keyId: string } }
  | { readonly existing: { keyId: string } };

/** The alias of the demo key: how a restart on the same data finds it. */
export const DEMO_ALIAS = 'demo';

/**
 * Demo data for `gatepass dev`: a key with a rate limit and an hourly quota, and a key
 * whose session expired a day ago (to see `session_expired`). On data kept from an earlier
 * run (`--data-dir`) the demo key is already there: nothing is created — its raw key was
 * shown when it was created, and gatepass keeps only its hash.
 */
export async function seedDemo(keys: KeyService, now = Math.floor(Date.now() / 1000)): Promise<SeededKeys> {
  const found = await keys.list({ alias: DEMO_ALIAS, limit: 1 });
  if (found.items[0] !== undefined) return { existing: { keyId: found.items[0].keyId } };
  const demo = await keys.create({
    alias: DEMO_ALIAS,
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
