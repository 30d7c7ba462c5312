import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import type { SessionSettings } from '../../lambdas/core/store/item.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';

/**
 * An expired JWT trial never restarts, however long ago it expired: TTL must never delete a
 * JWT identity's session (the next token would create a fresh one from the policy). API-key
 * sessions still get their TTL, so long-expired keys are cleaned up.
 */
describe('TTL and JWT identity sessions', () => {
  let table: TestTable;
  let store: SessionStore;
  beforeAll(async () => {
    table = await createTestTable('trial');
    store = new SessionStore({ client: DynamoDBDocumentClient.from(table.client), tableName: table.tableName, retentionSeconds: 86_400 });
  });
  afterAll(async () => {
    await table.drop();
  });

  const NOW = 1_760_000_000;
  const settings: SessionSettings = {
    expires: NOW + 3600,
    quotaMax: 10,
    quotaRenewalRate: 0,
    rate: 0,
    per: 0,
    accessRights: {},
    applyPolicies: ['trial'],
    metaData: {},
    tags: [],
    isInactive: false,
  };

  it('writes no TTL on a JWT identity session, at creation or when its expiry changes', async () => {
    const created = await store.create(`jwt#${'1'.repeat(64)}`, 'trial-1', settings, { quotaUsed: 0, quotaStart: NOW * 1000 }, NOW, 'jwt');
    expect(created).not.toHaveProperty('ttl');
    await store.change(
      `jwt#${'1'.repeat(64)}`,
      { incarnation: created.incarnation, version: created.version },
      { settings: { expires: NOW + 7200 } },
      NOW,
    );
    const renewed = await store.get(`jwt#${'1'.repeat(64)}`);
    expect(renewed!.expires).toBe(NOW + 7200);
    expect(renewed).not.toHaveProperty('ttl');
  });

  it('keeps the TTL of API-key sessions: expires + retention', async () => {
    const created = await store.create(`key#${'2'.repeat(64)}`, 'trial-2', settings, { quotaUsed: 0, quotaStart: NOW * 1000 }, NOW, 'key');
    expect(created).toMatchObject({ ttl: NOW + 3600 + 86_400 });
  });
});
