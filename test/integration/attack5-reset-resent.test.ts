import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createDynamoClient } from '../../local/table.ts';
import { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { createTestTable, type TestTable, lambdaClient } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack: a change is one TransactWriteItems with a ClientRequestToken, so that when its
 * answer is lost the SDK's re-send (same token) is not applied twice. But `transactOnce`
 * (store/transaction.ts) answers a *throttled* send by sending the change again with a NEW
 * token — on the assumption that a throttled send applied nothing. That holds for the
 * attempt DynamoDB throttled, not for the whole `send`: the SDK's first attempt may have
 * landed with its answer lost (a connection reset), and only its re-send was throttled. The
 * next attempt, under a fresh token, is a new transaction and lands a second time.
 *
 * A reset's guard is the incarnation and the counter items only (no version: a reset keeps
 * it), and it writes `quotaUsed = 0, quotaStart = <the admin's now>` — the same values both
 * times. So the second landing puts the window back to the very start the first one opened,
 * erasing every request counted between the two: one reset, one quota window, twice the quota.
 * A hot key is where this is likely: its change writes the session item and every counter
 * item, all at their ceiling, which is why `transactOnce` retries throttling at all (12 times).
 *
 * The admin's client is the Lambda's (`createDocumentClient`: 2 attempts, 50 ms apart). Below
 * the SDK's retry: the reset's first attempt reaches DynamoDB Local and lands; its answer is
 * lost after the load used the new window up; the SDK's re-send (same token) is answered with
 * a throttling error, as a hot key's items at their ceiling would answer it.
 *
 * Suggested fix: after a send that may have landed (any error but a cancellation whose every
 * reason is known), re-send with the SAME token (DynamoDB answers success for 10 minutes,
 * or IdempotentParameterMismatch/TransactionInProgress), never a new one; or make a reset
 * conditional on what it read (the window start and count it replaces), so a second landing fails.
 *
 * Fixed: `transactOnce` keeps the token across throttled re-sends (and while DynamoDB reports
 * the token's copy in progress); only a cancellation by a conflict draws a new one.
 */
describe('attack5: a change re-sent under a new token after a lost answer and a throttled re-send', () => {
  let table: TestTable;
  let armed = false;
  let between: () => Promise<void> = async () => {};
  let landings = 0;

  beforeAll(async () => {
    table = await createTestTable('attack5-resent');
  });
  afterAll(async () => {
    await table.drop();
  });

  /**
   * The admin Lambda's client, whose next transaction lands, loses its answer, and has its
   * re-send throttled: by the simulated per-item ceiling when one is given (the items at
   * their ceiling), else answered a throttling error outright.
   */
  function adminClient(ceiling?: ThroughputCeiling): DynamoDBDocumentClient {
    const client = lambdaClient();
    if (ceiling !== undefined) ceiling.install(client);
    let attempt = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand' || !armed) return next(args);
        attempt++;
        if (attempt === 1) {
          await next(args);
          landings++;
          await between();
          throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
        }
        if (attempt === 2 && ceiling === undefined) {
          throw new ProvisionedThroughputExceededException({
            message: 'The level of configured provisioned throughput for the table was exceeded.',
            $metadata: { httpStatusCode: 400 },
          });
        }
        const result = await next(args);
        armed = false;
        landings++;
        return result;
      },
      { step: 'deserialize', name: 'loseThenThrottle', priority: 'low' },
    );
    return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  const session = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as StoredSession;

  for (const hot of [false, true]) {
    it(`one reset of a used-up ${hot ? 'hot' : 'cold'} key allows no more than the quota in the window it opens`, async () => {
      const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
      const c = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
      // Another instance after the reset (c repeats its denials from memory for half a second).
      const d = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
      const quota = 50;
      const { key, keyId } = await b.keys.create({ quotaMax: quota, quotaRemaining: 0, quotaRenewalRate: 86_400 });
      const pk = `key#${keyId}`;
      if (hot) await spreadKey(table.doc, table.tableName, pk, 4);
      const admin = new KeyService(new SessionStore({ client: adminClient(), tableName: table.tableName, retentionSeconds: 0 }), () =>
        Math.floor(Date.now() / 1000),
      );
      expect((await b.pipeline.authorize(requestWith(key))).allow).toBe(false);

      let allowed = 0;
      const load = async (on: ReturnType<typeof pipelineOn>, n: number) => {
        for (let i = 0; i < n; i++) if ((await on.pipeline.authorize(requestWith(key))).allow) allowed++;
      };
      // While the reset's answer is on its way back (lost), clients use the new window up.
      between = async () => {
        await load(c, quota + 20);
      };
      armed = true;
      landings = 0;
      await admin.resetQuota(keyId);
      const start = (await session(pk)).quotaStart;
      await load(d, quota + 20);

      expect(landings).toBe(2);
      // The window is the one the reset opened: same start.
      expect((await session(pk)).quotaStart).toBe(start);
      // On the bug: 2 × quota (the second landing erased the first window's count).
      expect(allowed).toBeLessThanOrEqual(quota);
    }, 20_000);
  }
  /**
   * The same with nothing made up but the lost answer: the admin's client behind the
   * simulated per-item ceiling (W = 10), the session item kept at its ceiling by other writers
   * (a hot key). The SDK's re-send, 50 ms later, is throttled by the ceiling itself;
   * `transactOnce` pauses and sends the reset again under a new token once the item has units.
   */
  it('one reset of a used-up key at its ceiling allows no more than the quota in the window it opens', async () => {
    const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: 10 });
    const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const c = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const d = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const quota = 50;
    const { key, keyId } = await b.keys.create({ quotaMax: quota, quotaRemaining: 0, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    const admin = new KeyService(new SessionStore({ client: adminClient(ceiling), tableName: table.tableName, retentionSeconds: 0 }), () =>
      Math.floor(Date.now() / 1000),
    );
    let allowed = 0;
    const load = async (on: ReturnType<typeof pipelineOn>, n: number) => {
      for (let i = 0; i < n; i++) if ((await on.pipeline.authorize(requestWith(key))).allow) allowed++;
    };
    between = async () => {
      await load(c, quota + 20);
      // Other writers take the session item's units as they come (its ceiling).
      const write = { TableName: table.tableName, Key: { pk: { S: pk } } };
      for (let i = 0; i < 100; i++) {
        try {
          ceiling.charge('UpdateItemCommand', write);
        } catch {
          break;
        }
      }
    };
    armed = true;
    landings = 0;
    await admin.resetQuota(keyId);
    await load(d, quota + 20);

    expect(landings).toBe(2);
    expect(ceiling.stats.throttled).toBeGreaterThan(0);
    // On the bug: about 2 × quota.
    expect(allowed).toBeLessThanOrEqual(quota);
  }, 20_000);

  /**
   * The same re-send, on a rotation (a settings change with the new key's pointer): its
   * second landing fails (version moved, pointer there), so the admin is answered a conflict
   * for a rotation that happened. The new raw key is never shown, and with `graceSeconds: 0`
   * the key the client holds is refused at once: nobody can use the session any more. Not an
   * over-grant, but the same cause (a new token after a send that may have landed).
   */
  it('a rotation whose answer is lost and whose re-send is throttled is reported as applied, or not applied at all', async () => {
    const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
    const { key, keyId } = await b.keys.create({ quotaMax: -1 });
    const admin = new KeyService(new SessionStore({ client: adminClient(), tableName: table.tableName, retentionSeconds: 0 }), () =>
      Math.floor(Date.now() / 1000),
    );
    between = async () => {};
    armed = true;
    landings = 0;
    const rotated = await admin.rotate(keyId, { graceSeconds: 0 }).then(
      (created) => created.key,
      (error: Error) => error,
    );
    const old = await b.pipelineWith().authorize(requestWith(key));
    expect(landings).toBe(2);
    // On the bug: the rotation landed (the old key is refused: key_not_found) and the admin got a
    // VersionConflictError (409) instead of the new key.
    expect(old.allow || typeof rotated === 'string').toBe(true);
  }, 20_000);
});
