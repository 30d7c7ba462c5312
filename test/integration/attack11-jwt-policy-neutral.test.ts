import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { createJwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount, reasonsOf } from '../support/hot-account.ts';
import { drive, spreadKey } from '../support/hot-keys.ts';
import { generateTestKey, jwksOf, signToken, startJwksServer, type JwksServer } from '../support/jwks-server.ts';

const ISS = 'https://issuer.test/';
const AUD = 'gatepass-api';
const HIGH = 30;
const LOW = 24;

function fields(input: PolicyInput): PolicyFields {
  const parsed = parsePolicyInput(input);
  if (!parsed.success) throw new Error('bad test policy');
  return parsed.data;
}

/**
 * Attack (held): a JWT identity's session on a hot key (4 counter items), its limits from the
 * policy its token names, hammered by three instances (policies read every time) while, in
 * one quota window, an admin alternates a policy edit (quota 30 ↔ 24: the leases' tag goes
 * stale, the newer view revokes them and takes over) with a metaData PATCH of the identity's
 * session (a change that moves the leases, tag and all, to its version).
 * Must hold: at most 30 allowed (the largest quota in force), the session item's count never
 * past 30, and every Allow inside it (count ≥ Allows + unspent: a revoked lease is lost, never
 * given twice), no lease spendable outside the session's version.
 * Observed: 12 edits in 4 s; 25 allowed (then quota_exceeded), count 30 ≥ 25 + 0 unspent (5
 * lost with revoked leases: an under-grant), no stray lease.
 */
describe('attack11: a JWT identity on a hot key, a policy edit and a neutral change in one window', () => {
  let table: TestTable;
  let jwks: JwksServer;
  let token: string;
  let doc: DynamoDBDocumentClient;
  let policyAdmin: PolicyStore;
  let keys: KeyService;
  let pipelines: Pipeline[];

  beforeAll(async () => {
    const rsa = await generateTestKey('RS256');
    [table, jwks] = await Promise.all([createTestTable('attack11-jwt-policy'), startJwksServer()]);
    jwks.setKeys(jwksOf(rsa));
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    policyAdmin = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    keys = new KeyService(new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 0 }), undefined, {
      policies: policyAdmin,
    });
    const config = parseConfig(
      JSON.stringify({
        tableName: table.tableName,
        policyCacheSeconds: 0,
        jwt: { jwksUrl: jwks.url, algorithms: ['RS256'], issuer: ISS, audience: AUD },
      }),
    );
    pipelines = Array.from({ length: 3 }, () => {
      const own = DynamoDBDocumentClient.from(createDynamoClient(table.endpoint), { marshallOptions: { removeUndefinedValues: true } });
      return new Pipeline({
        config,
        store: new SessionStore({ client: own, tableName: table.tableName, retentionSeconds: 0 }),
        log: silentLog,
        jwt: createJwtVerifier(config.jwt!),
        policies: new PolicyStore({ client: own, tableName: table.tableName, cacheSeconds: 0 }),
      });
    });
    const now = Math.floor(Date.now() / 1000);
    token = await signToken(rsa, { iss: ISS, aud: AUD, sub: 'hot-user', pol: ['plan'], iat: now, exp: now + 3600 });
  });
  afterAll(async () => {
    await jwks?.close();
    await table?.drop();
  });

  it('allows at most the largest quota in force, every Allow inside the count (held)', async () => {
    const plan = (quotaMax: number): PolicyInput => ({ quotaMax, quotaRenewalRate: 86_400, accessRights: { api1: {} } });
    await policyAdmin.put('plan', fields(plan(HIGH)));
    const bearer = `Bearer ${token}`;
    const first = await pipelines[0]!.authorize({
      apiId: 'api1',
      stage: 'prod',
      method: 'GET',
      path: '/pets',
      headers: { authorization: bearer },
      query: {},
      sourceIp: '127.0.0.1',
    });
    expect(first.allow).toBe(true);
    const { pk, keyId } = jwtSessionPk(ISS, 'hot-user');
    await spreadKey(doc, table.tableName, pk, 4);
    let running = true;
    let edits = 0;
    const churn = (async () => {
      for (let i = 0; running; i++) {
        await new Promise((resolve) => setTimeout(resolve, 120));
        if (i % 2 === 0) await policyAdmin.put('plan', fields(plan(i % 4 === 0 ? LOW : HIGH)));
        else await keys.update(keyId, { metaData: { i } }).catch(() => undefined);
        edits++;
      }
    })();
    const answers = await drive(pipelines, bearer, 4000, 3);
    running = false;
    await churn;
    const account = await hotAccount(doc, table.tableName, pk);
    const allowed = 1 + allowsOf(answers);
    const summary = JSON.stringify({ edits, reasons: reasonsOf(answers), allowed, account });
    console.log(summary);
    expect(allowed, summary).toBeLessThanOrEqual(HIGH);
    expect(account.used, summary).toBeLessThanOrEqual(HIGH);
    expect(account.used, summary).toBeGreaterThanOrEqual(allowed + account.unspent);
    expect(account.strays, summary).toEqual([]);
  }, 20_000);
});
