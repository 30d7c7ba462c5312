import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack: a cold key's count is throttled (nothing applied) and the key is deleted by an
 * admin in the same moment. The count is no longer retried by the SDK: the store spreads
 * the key at once, the spreading write finds no key (`attribute_exists(pk)` fails, the
 * item gone) and `SessionStore.count` throws the throttling error — the request fails
 * closed with a fault (500) instead of a denial. Before, the SDK's retry of the count met
 * the missing item (its condition failed with no item) and the request was denied
 * `key_not_found`.
 * Observed: the request rejects with `ProvisionedThroughputExceededException` (a 500 at
 * the gateway), expected `{ allow: false, reason: 'key_not_found' }`; with the count's throttle retried once as
 * before (the flag taken off in a middleware above the retry), it is denied `key_not_found`.
 *
 * Severity: low — a fault instead of a denial in a narrow race, still closed. Suggested
 * fix: when the spreading write finds the key gone (`grow` returns undefined for a missing
 * item, not for a throttle), answer the count `{ ok: false, current: undefined }`, as a
 * failed count on a deleted key does.
 */
describe('attack13: a throttled count of a key deleted meanwhile', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack13-count-deleted');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('is denied key_not_found, not a fault', async () => {
    const admin = pipelineOn(lambdaClient(), table.tableName);
    const client = lambdaClient();
    let sessionPk = '';
    let armed = false;
    let keyId = '';
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input?: { Key?: { pk?: { S?: string } }; ExpressionAttributeNames?: Record<string, string> } }).input;
        const spreading = Object.values(input?.ExpressionAttributeNames ?? {}).includes('shards');
        if (armed && context.commandName === 'UpdateItemCommand' && input?.Key?.pk?.S === sessionPk && !spreading) {
          armed = false;
          // The admin's delete lands while this count is throttled.
          await admin.keys.delete(keyId);
          throw new ProvisionedThroughputExceededException({ message: 'throttled (simulated)', $metadata: {} });
        }
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'throttleAndDelete' },
    );
    const { pipeline } = pipelineOn(client, table.tableName);
    const created = await admin.keys.create({ quotaMax: 100, quotaRenewalRate: 3600 });
    keyId = created.keyId;
    sessionPk = `key#${keyId}`;
    armed = true;
    const outcome = await pipeline.authorize(requestWith(created.key)).then(
      (decision) => decision,
      (error: Error) => error.name,
    );
    expect(outcome).toMatchObject({ allow: false, reason: 'key_not_found' });
  });
});
