import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { parsePolicyInput, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { generateTestKey, jwksOf, signToken, startJwksServer, type JwksServer, type TestKey } from '../support/jwks-server.ts';
import { requestWith } from '../support/pipeline.ts';

const T0 = 1_750_000_000;
const ISS = 'https://issuer.test/';
const AUD = 'gatepass-api';

/**
 * A JWT identity's plan made of partitioned policies (quota and rate only, no ACL part):
 * its first-sight session gets no access rights of its own, and `{}` means every API.
 */
describe('attack: JWT identity whose plan has no ACL partition', () => {
  let table: TestTable;
  let jwks: JwksServer;
  let rsa: TestKey;
  let doc: DynamoDBDocumentClient;
  const clock = () => T0 * 1000;

  beforeAll(async () => {
    [table, jwks, rsa] = await Promise.all([createTestTable('attack-jwt-acl'), startJwksServer(), generateTestKey('RS256')]);
    jwks.setKeys(jwksOf(rsa));
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
  });
  afterAll(async () => {
    await jwks?.close();
    await table?.drop();
  });

  async function policy(input: PolicyInput): Promise<string> {
    const parsed = parsePolicyInput(input);
    if (!parsed.success) throw new Error('bad test policy');
    const id = `p-${randomUUID()}`;
    await new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 }).put(id, parsed.data);
    return id;
  }

  it('never allows an API that no policy of the plan lists', async () => {
    const plan = await policy({
      quotaMax: 100,
      quotaRenewalRate: 3600,
      partitions: { quota: true, rateLimit: true },
      accessRights: { api1: { versions: ['Default'] } },
    });
    const config = parseConfig(
      JSON.stringify({ tableName: table.tableName, jwt: { jwksUrl: jwks.url, algorithms: ['RS256'], issuer: ISS, audience: AUD } }),
    );
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0, clock });
    const pipeline = new Pipeline({ config, store, log: silentLog, clock, jwt: createJwtVerifier(config.jwt!, { clock }), policies });
    const jwt = await signToken(rsa, { iss: ISS, aud: AUD, sub: `u-${randomUUID()}`, iat: T0, exp: T0 + 3600, pol: plan });

    const other = await pipeline.authorize(requestWith(`Bearer ${jwt}`, { apiId: 'admin-api' }));

    expect(other).toMatchObject({ allow: false, reason: 'api_not_allowed' });
  });
});
