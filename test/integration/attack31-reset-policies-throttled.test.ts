import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parsePolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack31 (a reset that landed answered as a fault). The fix answers a quota reset as the reset left it
 * (`asWritten: 'counts'`) when DynamoDB throttles the read after it. But `KeyService.resetQuota`'s fallback calls
 * `#publicOf(written)`, which reads the key's policies (`#policiesById`, strong GetItems in the same table) — while
 * DynamoDB throttles the reads, that read throws too, and the reset that landed is answered with the throttle (a 500):
 * the operator tries again, and a second reset (no If-Match) erases what was counted in between. `#answer` (PATCH,
 * rotation) handles exactly this (`asWritten: 'without-policies'`): the control below.
 * Expected: the reset is answered as written, like the PATCH.
 */
describe('attack31: a reset of a key with policies, its reads after it throttled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a31-reset-policies');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('answers a landed reset as written (a PATCH is: the control)', async () => {
    const state = { armed: false, written: false, throttled: 0 };
    const client = lambdaClient();
    throttleAttempts(client, (command) => {
      if (state.armed && /^(TransactWriteItems|UpdateItem|PutItem)Command$/.test(command)) state.written = true;
      if (!state.written || (command !== 'GetItemCommand' && command !== 'BatchGetItemCommand')) return undefined;
      state.throttled++;
      return 'table';
    });
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    const keys = new KeyService(store, () => Date.now() / 1000, { policies });
    const parsed = parsePolicyInput({ quotaMax: 100, quotaRenewalRate: 86_400, partitions: { quota: true }, accessRights: {} });
    if (!parsed.success) throw new Error('bad test policy');
    const policyId = `p-${randomUUID()}`;
    await policies.put(policyId, parsed.data);
    const { keyId } = await keys.create({ quotaMax: 5, quotaRenewalRate: 3600, applyPolicies: [policyId] });
    const pk = `key#${keyId}`;

    state.armed = true;
    const patched = await keys.update(keyId, { metaData: { plan: 'gold' } }).then(
      (s) => s.asWritten ?? 'read',
      (e: Error) => e.name,
    );

    state.written = false;
    state.throttled = 0;
    const before = (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item!;
    const reset = await keys.resetQuota(keyId).then(
      (s) => s.asWritten ?? 'read',
      (e: Error) => e.name,
    );
    const after = (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item!;
    expect({ resetLanded: after.version > before.version, patched, reset }).toEqual({
      resetLanded: true,
      patched: 'without-policies',
      reset: expect.stringMatching(/^(counts|without-policies)$/),
    });
  }, 30_000);
});
