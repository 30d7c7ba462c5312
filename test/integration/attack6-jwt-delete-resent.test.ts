import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminHandler, type AdminHandler } from '../../lambdas/admin/handler.ts';
import type { HttpResult } from '../../lambdas/admin/http.ts';
import { createJwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { parsePolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { adminEvent } from '../support/admin-events.ts';
import { type LostAnswer, loseNextTransactionAnswer } from '../support/lossy-client.ts';
import { hs256Tokens } from '../support/hs256.ts';
import { createTestTable, type TestTable, lambdaClient } from '../support/dynamo.ts';
import { requestWith } from '../support/pipeline.ts';

const SECRET = 'attack6-jwt-delete-secret-0123456789abcdef';
const ISSUER = 'https://issuer.attack6.test/';

/**
 * Attack: `If-Match` names a version, not a life of the key. Deleting a JWT identity's session
 * is how an admin lets the identity start afresh; the identity's next request creates a new
 * session — version 1 again, a whole quota. An identity whose session was never edited is at
 * version 1 too.
 *
 * The admin's DELETE (`If-Match: 1`) lands, and its answer is lost twice (the SDK's first
 * attempt reset, its re-send timed out): 500. The identity, meanwhile, gets its new session
 * and uses its quota (the fresh start intended). The admin sends the DELETE again, the same
 * `If-Match: 1`: the service reads the key id again, finds the new session at version 1 — the
 * If-Match holds — and deletes it. The identity starts afresh a second time: one delete
 * intended, two fresh quotas granted. The incarnation guard cannot help: the re-send reads
 * the new life before writing.
 *
 * Suggested fix: make `If-Match` name the life too (an ETag of incarnation and version, e.g.
 * `"<incarnation>:<version>"`, the bare version still accepted but only for the life it was
 * read in — or versions that never restart: a new session's version above its predecessor's,
 * as policies do with their tombstones).
 */
describe('attack6: a JWT identity deleted, re-created by its own requests, and deleted again by the re-sent DELETE', () => {
  let table: TestTable;
  let lost: LostAnswer;
  let handler: AdminHandler;
  /** A new authorizer instance (its memory of denials empty). */
  let instance: () => Pipeline;

  beforeAll(async () => {
    table = await createTestTable('attack6-jwt-delete');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    const config = parseConfig(
      JSON.stringify({
        tableName: table.tableName,
        policyCacheSeconds: 0,
        jwt: { secret: SECRET, algorithms: ['HS256'], issuer: ISSUER, defaultPolicies: ['plan'] },
      }),
    );
    const plan = parsePolicyInput({ quotaMax: 10, quotaRenewalRate: 86_400 });
    if (!plan.success) throw new Error('bad test policy');
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('plan', plan.data);
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    instance = () => new Pipeline({ config, store, log: silentLog, policies, jwt: createJwtVerifier(config.jwt!) });
    handler = createAdminHandler({ config, client: adminClient(), logger: new Logger({ serviceName: 'attack6', logLevel: 'SILENT' }) });
  });
  afterAll(async () => {
    await table?.drop();
  });

  /** The admin Lambda's client: when armed, its next transaction lands, its answer is lost and the SDK's re-send times out. */
  function adminClient(): DynamoDBDocumentClient {
    const client = lambdaClient();
    lost = loseNextTransactionAnswer(client, () =>
      Object.assign(new Error('Request timed out after 400 ms'), { name: 'TimeoutError', $metadata: {} }),
    );
    return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<HttpResult> {
    const event = adminEvent(method, path, headers, body);
    return handler(event, lambdaContext('gatepass-admin'));
  }

  const tokenFor = hs256Tokens(SECRET, ISSUER);
  const calls = async (sub: string, n: number) => {
    // Each burst on another instance, as the identity's requests spread over Lambda instances.
    const pipeline = instance();
    let allowed = 0;
    for (let i = 0; i < n; i++) if ((await pipeline.authorize(requestWith(`Bearer ${await tokenFor(sub)}`))).allow) allowed++;
    return allowed;
  };

  // Fixed: a key's versions go on across its lives (the delete records its life's last
  // version; the identity's new session starts above it), so the re-sent If-Match no longer holds.
  it('one DELETE with If-Match, sent twice, gives the identity one fresh quota, not two', async () => {
    const sub = 'trial-user';
    const { keyId } = jwtSessionPk(ISSUER, sub);
    expect(await calls(sub, 12)).toBe(10);
    const read = await send('GET', `/keys/${keyId}`);
    const version = String((JSON.parse(String(read.body)) as { version: number }).version);
    expect(version).toBe('1');

    lost.arm();
    const first = await send('DELETE', `/keys/${keyId}`, { 'if-match': version });
    expect({ status: first.statusCode, landings: lost.landings }).toEqual({ status: 500, landings: 1 });
    // The fresh start the delete was for: a new session (version 1), its quota used.
    let afterDelete = await calls(sub, 12);
    // The admin sends the same DELETE again.
    const again = await send('DELETE', `/keys/${keyId}`, { 'if-match': version });
    afterDelete += await calls(sub, 12);
    // On the bug: the re-send deletes the new session (204) and the identity gets 2 × 10.
    expect(again.statusCode).toBe(409);
    expect(afterDelete).toBeLessThanOrEqual(10);
  }, 20_000);

  /**
   * Held, for contrast: a policy's versions never restart (a delete leaves a tombstone, and a
   * policy created again goes on from its version), so the same re-sent DELETE, after the
   * policy was created again, is refused.
   */
  it("a policy's DELETE with If-Match, sent again after the policy was created again, is refused", async () => {
    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify({ quotaMax: 5, quotaRenewalRate: 60 });
    expect((await send('PUT', '/policies/resent', json, body)).statusCode).toBeLessThan(300);
    lost.arm();
    const first = await send('DELETE', '/policies/resent', { 'if-match': '1' });
    expect({ status: first.statusCode, landings: lost.landings }).toEqual({ status: 500, landings: 1 });
    expect((await send('PUT', '/policies/resent', json, body)).statusCode).toBeLessThan(300);
    const again = await send('DELETE', '/policies/resent', { 'if-match': '1' });
    expect(again.statusCode).toBe(409);
    expect((await send('GET', '/policies/resent')).statusCode).toBe(200);
  }, 20_000);
});
