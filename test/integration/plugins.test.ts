import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import customAuth, { sessionKeyOf } from '../../examples/plugins/custom-auth.ts';
import renewOnExpiry from '../../examples/plugins/renew-on-expiry.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { keyIdOf, keySessionPk } from '../../lambdas/core/model/keys.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import type { GatepassPlugin, Session } from '../../lambdas/core/plugins/plugin.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { concurrently, requestWith } from '../support/pipeline.ts';

// Real time (whole seconds): the table has TTL on, and DynamoDB Local deletes items whose
// `ttl` (expires + retention) has passed — a fixed past clock would see its sessions vanish.
const NOW_MS = Math.floor(Date.now() / 1000) * 1000;
const NOW = NOW_MS / 1000;

/**
 * The pipeline with plugins on DynamoDB Local: what a hook writes is what the rest of the
 * request is checked against (I4), with the store's real conditional writes.
 */
describe('plugins in the pipeline, on DynamoDB Local', () => {
  let table: TestTable;
  let doc: DynamoDBDocumentClient;
  let store: SessionStore;
  let keys: KeyService;

  beforeAll(async () => {
    table = await createTestTable('plugins');
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    keys = new KeyService(store, () => NOW);
  });
  afterAll(async () => {
    await table.drop();
  });

  /** Counts the commands the pipeline's client sends from now on, by name. */
  function commandCounter(): Map<string, number> {
    const counts = new Map<string, number>();
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName);
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    return counts;
  }

  function pipelineWith(plugins: GatepassPlugin[]): Pipeline {
    const config = parseConfig(JSON.stringify({ tableName: table.tableName }));
    return new Pipeline({ config, store, log: silentLog, clock: () => NOW_MS, plugins });
  }

  it("renews an expired session and checks the request against the write's ALL_NEW item, without a second read", async () => {
    const { key, keyId } = await keys.create({ expires: NOW - 86_400, quotaMax: 10 });
    const pipeline = pipelineWith([renewOnExpiry]);
    const counts = commandCounter();

    const decision = await pipeline.authorize(requestWith(key));

    expect(decision).toMatchObject({ allow: true, context: { keyId, expires: NOW + 60, quotaRemaining: 9 } });
    expect(counts.get('GetItemCommand')).toBe(1); // the renewal's ALL_NEW is used: no second read
    expect(await store.get(keySessionPk(keyId))).toMatchObject({ expires: NOW + 60, quotaUsed: 1, version: 2 });
  });

  it("gives custom-auth's session to the request that created it", async () => {
    const token = `tok-${Math.random()}`;
    const pipeline = pipelineWith([customAuth]);

    const first = await pipeline.authorize(requestWith(undefined, { headers: { 'x-auth-token': token } }));
    const second = await pipeline.authorize(requestWith(undefined, { headers: { 'x-auth-token': token } }));

    const keyId = keyIdOf(sessionKeyOf(token));
    expect(first).toMatchObject({ allow: true, principalId: keyId, context: { quotaRemaining: 999, expires: NOW + 60 } });
    expect(second).toMatchObject({ allow: true, context: { quotaRemaining: 998 } });
  });

  it("decides on what was written, not on a hook's in-place edit of ctx.session (no write, no effect)", async () => {
    const { key } = await keys.create({ accessRights: { 'another-api': {} }, metaData: { plan: 'free' } });
    const editor: GatepassPlugin = {
      name: 'in-place-editor',
      postAuth(ctx) {
        const session = ctx.session as { accessRights: Record<string, object>; metaData: Record<string, string> };
        session.accessRights.api1 = {};
        session.metaData.plan = 'gold';
      },
    };

    const decision = await pipelineWith([editor]).authorize(requestWith(key));

    expect(decision).toMatchObject({ allow: false, reason: 'api_not_allowed' });
  });

  it('gives post hooks the session as last written, consumption included', async () => {
    const { key } = await keys.create({ quotaMax: 10 });
    let seen: { session: Session; contextQuota: unknown } | undefined;
    const observer: GatepassPlugin = {
      name: 'observer',
      post(ctx) {
        seen = { session: ctx.session, contextQuota: ctx.context.quotaRemaining };
      },
    };

    await pipelineWith([observer]).authorize(requestWith(key));

    expect(seen!.contextQuota).toBe(9);
    expect(seen!.session.quotaRemaining).toBe(9);
  });

  it('creates one session for concurrent first requests of a new custom-auth token: all allowed, exact quota', async () => {
    const token = `tok-${Math.random()}`;
    const pipeline = pipelineWith([customAuth]);

    const decisions = await concurrently(10, () =>
      pipeline.authorize(requestWith(undefined, { headers: { 'x-auth-token': token } })).catch((error: unknown) => error),
    );

    expect(decisions.filter((d) => (d as { allow?: boolean }).allow === true)).toHaveLength(10);
    expect(await store.get(keySessionPk(keyIdOf(sessionKeyOf(token))))).toMatchObject({ quotaUsed: 10, version: 1 });
  });
});
