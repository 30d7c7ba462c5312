import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

/** `explain` and the authorizer run the same decision function: they cannot disagree. */
describe('explain and the pipeline', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('explain-agrees');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('agree on a key whose policy quota was raised after it was used up', async () => {
    const doc = DynamoDBDocumentClient.from(table.client);
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    const keys = new KeyService(store, undefined, { policies });
    const pipeline = new Pipeline({
      config: parseConfig(JSON.stringify({ tableName: table.tableName, policyCacheSeconds: 0 })),
      store,
      log: silentLog,
      policies,
    });
    const target = { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' };

    await policies.put('plan', PolicyFieldsSchema.parse({ quotaMax: 5, quotaRenewalRate: 3600 }));
    const { key, keyId } = await keys.create({ applyPolicies: ['plan'] });
    for (let i = 0; i < 5; i++) expect((await pipeline.authorize(requestWith(key))).allow).toBe(true);
    expect(await keys.explain(keyId, target)).toMatchObject({ decision: 'deny', reason: 'quota_exceeded' });
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'quota_exceeded' });

    await policies.put('plan', PolicyFieldsSchema.parse({ quotaMax: 10, quotaRenewalRate: 3600 }));
    const explained = await keys.explain(keyId, target);
    expect(explained).toMatchObject({ decision: 'allow', session: { quotaRemaining: 5 } });
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true, context: { quotaRemaining: 4, quotaMax: 10 } });
  });

  it('agree when the authorizer caches results: a key with URL rights is denied url_rights_not_cacheable by both', async () => {
    const doc = DynamoDBDocumentClient.from(table.client);
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 });
    const config = parseConfig(JSON.stringify({ tableName: table.tableName, resultsCacheTtl: 300 }));
    const keys = new KeyService(store, undefined, { resultsCached: config.resultsCacheTtl > 0 });
    const pipeline = new Pipeline({ config, store, log: silentLog });
    const { key, keyId } = await keys.create({ accessRights: { api1: { allowedUrls: [{ url: '/pets' }] } } });

    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'url_rights_not_cacheable' });
    const explained = await keys.explain(keyId, { apiId: 'api1', stage: 'prod', method: 'GET', path: '/pets' });
    expect(explained).toMatchObject({ decision: 'deny', reason: 'url_rights_not_cacheable' });
    expect(explained.checks.find((check) => check.outcome === 'fail')).toMatchObject({ check: 'access_rights' });
  });
});
