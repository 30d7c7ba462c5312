import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parsePolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack on "a rotation's new key is never lost to a throttled read" (key-service.ts
 * `#answer`): the catch answers `#publicOf(written)`, which reads the key's policies again
 * (`#policiesById`: the admin's strong reads, the limits the answer shows). When the reads
 * after the write are throttled table-wide (DynamoDB throttles the table's reads: every item,
 * not only the hot key's), the first policy read throws a throttle inside the `try`, and the
 * same read in the catch throws it again: the rotation LANDED and the admin answers a fault.
 * Its new key — shown only in that answer — is lost, and the operator's retry rotates again.
 * (A key without policies gets its answer: `#publicOf` reads nothing then.)
 *
 * Observed (deterministic, 3 of 3 runs): a key with one policy; rotation with reads throttled
 * after the write → rejects with ProvisionedThroughputExceededException; the session item
 * afterwards names 2 key ids (the rotation landed). Expected: answered as written, the new
 * key shown (and working).
 *
 * Answered now: the rotation's answer, with the new key, marked `asWritten: 'without-policies'`.
 */
describe('a rotation of a key with policies, reads after it throttled table-wide', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a21-rotation-policy-read');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('answers the new key (the rotation landed)', async () => {
    const parsed = parsePolicyInput({ quotaMax: 100, quotaRenewalRate: 3600, accessRights: { api1: { versions: ['Default'] } } });
    if (!parsed.success) throw new Error('bad test policy');
    const policyId = `p-${randomUUID()}`;
    await new PolicyStore({ client: table.doc, tableName: table.tableName, cacheSeconds: 0 }).put(policyId, parsed.data);

    const state = { armed: false, written: false, throttled: 0 };
    const client = lambdaClient();
    throttleAttempts(client, (command) => {
      if (state.armed && /^(TransactWriteItems|UpdateItem|PutItem)Command$/.test(command)) state.written = true;
      if (!state.written || !/^(GetItem|BatchGetItem|Query)Command$/.test(command)) return undefined;
      state.throttled++;
      return 'table';
    });
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    const admin = new KeyService(store, undefined, {
      policies: new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 }),
    });
    const { keyId } = await admin.create({ applyPolicies: [policyId] });
    state.armed = true;

    const rotated = await admin.rotate(keyId, { graceSeconds: 60 }).catch((error: Error) => error);
    const stored = (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `key#${keyId}` }, ConsistentRead: true })))
      .Item;
    const summary = JSON.stringify({
      answer: rotated instanceof Error ? rotated.name : 'new key shown',
      throttled: state.throttled,
      keyIds: Object.keys((stored?.keyIds as object | undefined) ?? {}).length,
    });
    expect(Object.keys(stored?.keyIds ?? {}), summary).toHaveLength(2); // the rotation landed
    expect(rotated, summary).not.toBeInstanceOf(Error);
    if (rotated instanceof Error) return;
    // The new key shown is the one the rotation stored; the answer says it is the key as written, without its policies.
    expect(Object.keys(stored?.keyIds ?? {}), summary).toContain(rotated.keyId);
    expect(rotated.session.asWritten, summary).toBe('without-policies');
    expect(rotated.session.applyPolicies, summary).toEqual([policyId]);
  }, 20_000);
});
