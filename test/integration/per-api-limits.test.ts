import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { concurrently, pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Per-API limits (Tyk's `access_rights.{api}.limit`): an API with a limit of its own is
 * counted in its own scope, exactly, under concurrency, apart from the key's own quota.
 */
describe('per-API limits on DynamoDB Local', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('per-api');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('counts an API with its own quota apart from the key: exactly 5 and exactly 10 of 60 concurrent requests each', async () => {
    const { pipeline, keys } = pipelineOn(table.client, table.tableName);
    const { key, keyId } = await keys.create({
      quotaMax: 10,
      quotaRenewalRate: 3600,
      accessRights: { payments: { limit: { quotaMax: 5, quotaRenewalRate: 3600 } }, catalog: {} },
    });

    const decisions = await concurrently(120, (i) => pipeline.authorize(requestWith(key, { apiId: i % 2 ? 'payments' : 'catalog' })));

    const allowedOn = (apiId: string) => decisions.filter((d, i) => d.allow && (i % 2 ? 'payments' : 'catalog') === apiId).length;
    expect(allowedOn('payments')).toBe(5);
    expect(allowedOn('catalog')).toBe(10);
    const denied = decisions.filter((d) => !d.allow);
    expect(denied.every((d) => !d.allow && d.reason === 'quota_exceeded')).toBe(true);

    // reset-quota starts every window afresh, the API's own included. (Another instance: this
    // one repeats its denials of the hammered key for up to a second; see denial-memory.test.ts.)
    await keys.resetQuota(keyId);
    const other = pipelineOn(table.client, table.tableName).pipeline;
    expect(await other.authorize(requestWith(key, { apiId: 'payments' }))).toMatchObject({
      allow: true,
      context: { quotaMax: 5, quotaRemaining: 4 },
    });
  });

  it('applies an API rate limit of its own and says so in the context', async () => {
    const { pipeline, keys } = pipelineOn(table.client, table.tableName, { clock: () => 1_800_000_000_000 });
    const { key } = await keys.create({ accessRights: { search: { limit: { rate: 3, per: 60 } } } });

    const decisions = await concurrently(30, () => pipeline.authorize(requestWith(key, { apiId: 'search' })));

    expect(decisions.filter((d) => d.allow).length).toBe(3);
    expect(decisions.find((d) => d.allow)).toMatchObject({ context: { rateLimit: 3 } });
  });
});
