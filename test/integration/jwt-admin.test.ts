/**
 * A JWT identity's session is managed through the admin API like an API key's: read, reset
 * and deleted by its key id (the hash of issuer and identity), on DynamoDB Local.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { createJwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { parsePolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { hs256Tokens } from '../support/hs256.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

const SECRET = 'jwt-admin-test-secret-0123456789abcdef';
const ISSUER = 'https://issuer.admin.test/';

let table: TestTable;
let keys: KeyService;
let pipeline: Pipeline;

beforeAll(async () => {
  table = await createTestTable('jwt-admin');
  const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
  const config = parseConfig(
    JSON.stringify({
      tableName: table.tableName,
      policyCacheSeconds: 0,
      jwt: { secret: SECRET, algorithms: ['HS256'], issuer: ISSUER, defaultPolicies: ['plan'] },
    }),
  );
  const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
  const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
  const plan = parsePolicyInput({ quotaMax: 3, quotaRenewalRate: 3600 });
  if (!plan.success) throw new Error('bad test policy');
  await policies.put('plan', plan.data);
  keys = new KeyService(store, undefined, { policies });
  pipeline = new Pipeline({ config, store, log: silentLog, policies, jwt: createJwtVerifier(config.jwt!) });
});
afterAll(async () => {
  await table?.drop();
});

const tokenFor = hs256Tokens(SECRET, ISSUER);
const call = async (sub: string) => (await pipeline.authorize(requestWith(`Bearer ${await tokenFor(sub)}`))).allow;

describe('JWT identities through the admin API', () => {
  it('reads, resets and deletes an identity session by its key id', async () => {
    for (let i = 0; i < 4; i++) await call('user-1');
    const { keyId } = jwtSessionPk(ISSUER, 'user-1');

    expect(await keys.get(keyId)).toMatchObject({ keyId, quotaMax: 3, quotaRemaining: 0 });
    expect(await keys.resetQuota(keyId)).toMatchObject({ quotaRemaining: 3 });
    expect(await call('user-1')).toBe(true);

    await keys.delete(keyId);
    await expect(keys.get(keyId)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('answers not found for a key id that names neither a key nor an identity', async () => {
    await expect(keys.delete('e'.repeat(64))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(keys.resetQuota('e'.repeat(64))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});
