import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';
import { spreadKey } from '../support/hot-keys.ts';

function fields(input: PolicyInput): PolicyFields {
  const parsed = parsePolicyInput(input);
  if (!parsed.success) throw new Error('bad test policy');
  return parsed.data;
}

/**
 * Attack (held): the lease tag names a policy by `id:version`. Were a policy deleted and
 * created again under the same id to start at version 1 again, leases taken under the old
 * policy (a generous quota) would carry the same tag as requests decided under the new one
 * (a small quota), and be spent under it for as long as the window lasts. It holds: a deleted
 * policy stays as a tombstone and its versions go on. Kept as regression tests, with an
 * ordinary edit that lowers the quota of a hot key.
 */
describe('attack3: a policy deleted and created again, on a hot key', () => {
  let table: TestTable;
  let pipeline: Pipeline;
  let keys: KeyService;
  let admin: PolicyStore;

  beforeAll(async () => {
    table = await createTestTable('attack3-policy');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    const config = parseConfig(JSON.stringify({ tableName: table.tableName, policyCacheSeconds: 0 }));
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: config.sessionRetentionSeconds });
    admin = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    pipeline = new Pipeline({ config, store, log: silentLog, policies });
    keys = new KeyService(store);
  });
  afterAll(async () => {
    await table.drop();
  });

  async function hotKeyOn(policy: string): Promise<string> {
    const { key, keyId } = await keys.create({ applyPolicies: [policy] });
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 8);
    for (let i = 0; i < 40; i++) expect((await pipeline.authorize(requestWith(key))).allow).toBe(true);
    return key;
  }

  it('an edit that lowers the quota: the old leases are revoked, nothing more allowed', async () => {
    const plan: PolicyInput = { quotaMax: 1000, quotaRenewalRate: 86_400, accessRights: { api1: {} } };
    await admin.put('edited', fields(plan));
    const key = await hotKeyOn('edited');
    await admin.put('edited', fields({ ...plan, quotaMax: 10 }));
    let allowed = 0;
    for (let i = 0; i < 100; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
    expect(allowed).toBe(0);
  });

  it('denies under the new, smaller quota what the old policy leased', async () => {
    const plan: PolicyInput = { quotaMax: 1000, quotaRenewalRate: 86_400, accessRights: { api1: {} } };
    await admin.put('plan', fields(plan));
    const key = await hotKeyOn('plan');

    // The plan is replaced by a stricter one under the same id: 10 a day, already used up by this key.
    await admin.delete('plan');
    const stricter = await admin.put('plan', fields({ ...plan, quotaMax: 10 }), 0);
    expect(stricter.version).toBeGreaterThan(1);

    let allowed = 0;
    for (let i = 0; i < 100; i++) if ((await pipeline.authorize(requestWith(key))).allow) allowed++;
    // Were the tag reused: most of the 100 (the old leases, 125 each, spent under the new plan).
    expect(allowed).toBe(0);
  });
});
