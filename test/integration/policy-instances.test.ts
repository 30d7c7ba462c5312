import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

/**
 * Two authorizer instances whose policy caches disagree — one still holds the old copy of a
 * changed policy, the other the new one — judge the same count: together they never allow
 * more than the larger of the two quotas in the window.
 */
describe('authorizer instances with different copies of a changed policy', () => {
  let table: TestTable;
  let doc: DynamoDBDocumentClient;
  beforeAll(async () => {
    table = await createTestTable('policy-instances');
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
  });
  afterAll(async () => {
    await table.drop();
  });

  function instance(clock: () => number): Pipeline {
    const config = parseConfig(JSON.stringify({ tableName: table.tableName, policyCacheSeconds: 60 }));
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 60, clock });
    return new Pipeline({ config, store, log: silentLog, clock, policies });
  }

  it('counts every request against one counter, whichever instance asks: never more than the larger quota', async () => {
    let nowMs = 1_800_000_000_000;
    const clock = () => nowMs;
    const admin = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0, clock });
    await admin.put('plan', PolicyFieldsSchema.parse({ quotaMax: 5 }));
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    const { key } = await new KeyService(store, () => Math.floor(nowMs / 1000)).create({ applyPolicies: ['plan'] });

    const stale = instance(clock);
    expect((await stale.authorize(requestWith(key))).allow).toBe(true); // caches quota 5

    nowMs += 2000;
    await admin.put('plan', PolicyFieldsSchema.parse({ quotaMax: 10 }));
    const fresh = instance(clock); // reads quota 10

    const decisions = [];
    for (let i = 0; i < 40; i++) decisions.push(await (i % 2 ? stale : fresh).authorize(requestWith(key)));

    // One count, judged by each instance's copy: the stale one allows while fewer than 5 are
    // used, the fresh one while fewer than 10. 1 + 9 = 10 in the window, the larger quota —
    // never a fresh window per switch.
    expect(decisions.filter((d) => d.allow).length).toBe(9);
  });
});
