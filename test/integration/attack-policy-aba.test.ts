import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';

/**
 * Policies have a version but no incarnation: a deleted and re-created policy starts at
 * version 1 again, so an `If-Match` read from its previous life still holds.
 */
describe('attack: If-Match across a deleted and re-created policy', () => {
  let table: TestTable;
  let store: PolicyStore;

  beforeAll(async () => {
    table = await createTestTable('attack-policy-aba');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
  });
  afterAll(async () => {
    await table.drop();
  });

  function fields(input: PolicyInput): PolicyFields {
    const parsed = parsePolicyInput(input);
    if (!parsed.success) throw new Error('bad test policy');
    return parsed.data;
  }

  it('refuses a PUT with If-Match of a version read before the policy was deleted and re-created', async () => {
    const first = await store.put('plan', fields({ quotaMax: 10, accessRights: { api1: {} } }));
    // Another admin deletes it and makes a new, stricter one under the same id.
    await store.delete('plan');
    await store.put('plan', fields({ quotaMax: 1, isInactive: true, accessRights: { api1: {} } }), 0);

    // The first admin saves the edit of what they read (version 1, If-Match: 1).
    const saved = store.put('plan', fields({ quotaMax: 1000, accessRights: { api1: {} } }), first.version);

    await expect(saved).rejects.toThrow();
  });

  it('refuses a DELETE with If-Match of a version read before the policy was deleted and re-created', async () => {
    const first = await store.put('trial', fields({ quotaMax: 10, accessRights: { api1: {} } }));
    await store.delete('trial');
    await store.put('trial', fields({ quotaMax: 5, accessRights: { api1: {} } }), 0);

    await expect(store.delete('trial', first.version)).rejects.toThrow();
    expect(await store.get('trial')).toMatchObject({ quotaMax: 5 });
  });
});
