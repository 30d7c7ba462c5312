import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminHandler, type AdminHandler } from '../../lambdas/admin/handler.ts';
import type { HttpResult } from '../../lambdas/admin/http.ts';
import { ConfigSchema } from '../../lambdas/core/model/config.ts';
import { createDynamoClient } from '../../local/table.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { adminEvent } from '../support/admin-events.ts';
import { type LostAnswer, loseNextTransactionAnswer } from '../support/lossy-client.ts';
import { createTestTable, type TestTable, lambdaClient } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack: an admin write whose answer is lost *twice* — the SDK's first attempt lands and its
 * answer is lost (a connection reset), the SDK's re-send (same token) times out (DynamoDB slow,
 * `requestTimeoutMs` 400) — fails the admin request with a 500 although it landed. The token
 * dies with that request: the only re-send left is the person's (or the console's, or a
 * script's) HTTP request, which reads the key again and writes under a new token.
 *
 * `If-Match: <version>` is what the README offers to make PATCH, PUT, DELETE and reset-quota
 * conditional. It holds for a PATCH (its landing moved the version: the re-send is a 409). It
 * cannot hold for a reset: a reset leaves the version alone, so a re-send carrying the very
 * same `If-Match` passes, and the reset lands a second time — erasing every request counted
 * between the two. One reset intended, two applied: twice the quota within one renewal
 * period, and no header the admin could have sent prevents it.
 *
 * Suggested fix: make the reset visible to `If-Match` (a reset bumps the version — it revokes
 * a hot key's leases anyway, and a request in flight only decides again), or accept an
 * idempotency key (the `ClientRequestToken` derived from it, an `IdempotentParameterMismatch`
 * answered as "already applied").
 */
describe('attack6: a reset re-sent over HTTP after a 500 whose write landed', () => {
  let table: TestTable;
  let lost: LostAnswer;
  let handler: AdminHandler;

  beforeAll(async () => {
    table = await createTestTable('attack6-reset-http');
    handler = createAdminHandler({
      config: ConfigSchema.parse({ tableName: table.tableName }),
      client: adminClient(),
      logger: new Logger({ serviceName: 'attack6', logLevel: 'SILENT' }),
    });
  });
  afterAll(async () => {
    await table.drop();
  });

  /**
   * The admin Lambda's client (2 attempts, 50 ms apart), whose next transaction, when armed,
   * lands with its answer lost, and whose SDK re-send then times out before reaching DynamoDB.
   */
  function adminClient(): DynamoDBDocumentClient {
    const client = lambdaClient();
    lost = loseNextTransactionAnswer(client, () =>
      Object.assign(new Error('Request timed out after 400 ms'), { name: 'TimeoutError', $metadata: {} }),
    );
    return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  /**
   * A key with a quota of 30 used up in a window that renews daily, two instances (`b`, `c`),
   * and `load`: `n` requests in a row on one of them, counting those allowed (`allowed()`).
   */
  async function usedUpKey() {
    const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const c = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const quota = 30;
    const { key, keyId } = await b.keys.create({ quotaMax: quota, quotaRemaining: 0, quotaRenewalRate: 86_400 });
    const version = String((await b.keys.get(keyId)).version);
    let allowed = 0;
    const load = async (on: ReturnType<typeof pipelineOn>, n: number) => {
      for (let i = 0; i < n; i++) if ((await on.pipeline.authorize(requestWith(key))).allow) allowed++;
    };
    return { b, c, quota, keyId, version, load, allowed: () => allowed };
  }

  function send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<HttpResult> {
    const event = adminEvent(method, path, { 'content-type': 'application/json', ...headers }, body);
    return handler(event, lambdaContext('gatepass-admin'));
  }

  it('one reset-quota sent twice with the same If-Match allows no more than the quota after it', async () => {
    const { b, c, quota, keyId, version, load, allowed } = await usedUpKey();
    // While the reset's answer is lost, clients use the window it opened up.
    lost.arm(() => load(b, quota + 10));
    const first = await send('POST', `/keys/${keyId}/reset-quota`, undefined, { 'if-match': version });
    expect(first.statusCode).toBe(500);
    expect(lost.landings).toBe(1);
    // The admin sends the same request again, If-Match and all.
    const again = await send('POST', `/keys/${keyId}/reset-quota`, undefined, { 'if-match': version });
    await load(c, quota + 10);
    // On the bug: the re-send is applied (200) and 2 × quota are allowed after one intended reset
    // (a fix may answer the re-send 409, or 200 without applying it again).
    expect(again.statusCode).toBeLessThan(500);
    expect(allowed()).toBeLessThanOrEqual(quota);
  }, 20_000);

  /** Held: the same double loss on a PATCH of `quotaRemaining`: its re-send with If-Match is refused, nothing given twice. */
  it('a PATCH of quotaRemaining sent twice with the same If-Match is applied once', async () => {
    const { b, c, quota, keyId, version, load, allowed } = await usedUpKey();
    lost.arm(() => load(b, quota + 10));
    const body = JSON.stringify({ quotaRemaining: quota });
    const first = await send('PATCH', `/keys/${keyId}`, body, { 'if-match': version });
    expect(first.statusCode).toBe(500);
    const again = await send('PATCH', `/keys/${keyId}`, body, { 'if-match': version });
    await load(c, quota + 10);
    expect({ status: again.statusCode, allowed: allowed() }).toEqual({ status: 409, allowed: quota });
  }, 20_000);

  /**
   * Held (the cost of the same double loss on a rotation): the rotation landed, so with
   * `graceSeconds: 0` the key the client holds is refused at once, and the new raw key was in
   * the lost answer. The console's re-send carries the version it showed (now stale): 409,
   * nothing applied twice. Nothing is over-granted; the key is unusable until the admin
   * reloads and rotates again, which works.
   */
  it('a rotation answered 500 that landed: the re-send is refused, and rotating again recovers', async () => {
    const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const { key, keyId } = await b.keys.create({ quotaMax: -1 });
    const version = String((await b.keys.get(keyId)).version);
    lost.arm();
    const body = JSON.stringify({ graceSeconds: 0 });
    const first = await send('POST', `/keys/${keyId}/rotate`, body, { 'if-match': version });
    expect({ status: first.statusCode, landings: lost.landings }).toEqual({ status: 500, landings: 1 });
    expect((await b.pipelineWith().authorize(requestWith(key))).allow).toBe(false);
    expect((await send('POST', `/keys/${keyId}/rotate`, body, { 'if-match': version })).statusCode).toBe(409);
    const again = await send('POST', `/keys/${keyId}/rotate`, body);
    expect(again.statusCode).toBe(201);
    const rotated = (JSON.parse(String(again.body)) as { key: string }).key;
    expect((await b.pipelineWith().authorize(requestWith(rotated))).allow).toBe(true);
  }, 20_000);
});
