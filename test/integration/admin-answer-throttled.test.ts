import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * An admin change of a hot key lands, and the reads its answer makes after it (the session
 * item, its counter items) are throttled, as a hot key's items are under load: the change is
 * answered as written, never as a fault — a fault would send the operator to try again (a
 * second rotation, whose first new key nobody has seen).
 */
describe('an admin change whose reads after the write are throttled', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('admin-answer-throttled');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** An admin instance whose reads of `pk` and its counter items are throttled once a write has been sent. */
  function adminThrottledAfterWrite(pk: () => string) {
    const state = { written: false, throttled: 0 };
    const client = lambdaClient();
    throttleAttempts(client, (command, p) => {
      if (/^(TransactWriteItems|UpdateItem|PutItem)Command$/.test(command)) state.written = true;
      const reads = command === 'GetItemCommand' || command === 'BatchGetItemCommand';
      if (!state.written || !reads || (p !== '' && !p.startsWith(pk()))) return undefined;
      state.throttled++;
      return 'item';
    });
    return { admin: pipelineOn(client, table.tableName), state };
  }

  it.each([0, 8])(
    'answers a PATCH, a rotation and a reset as written (counter items: %i)',
    async (shards) => {
      let pk = '';
      const { admin, state } = adminThrottledAfterWrite(() => pk);
      const { key, keyId } = await admin.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400, rate: 10, per: 1 });
      pk = `key#${keyId}`;
      if (shards > 0) await spreadKey(table.doc, table.tableName, pk, shards);
      state.written = false;

      const patched = await admin.keys.update(keyId, { quotaMax: 50, metaData: { plan: 'gold' } });
      expect(state.throttled).toBeGreaterThan(0);
      expect(patched).toMatchObject({ keyId, quotaMax: 50, metaData: { plan: 'gold' } });
      const stored = (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item;
      expect(stored).toMatchObject({ quotaMax: 50, version: patched.version });

      state.written = false;
      state.throttled = 0;
      const rotated = await admin.keys.rotate(keyId, { graceSeconds: 60 });
      expect(state.throttled).toBeGreaterThan(0);
      expect(rotated.session).toMatchObject({ keyId, quotaMax: 50 });
      // The new key shown in that answer works: one session with the old key.
      const other = pipelineOn(lambdaClient(), table.tableName);
      expect(await other.pipeline.authorize(requestWith(rotated.key))).toMatchObject({ allow: true, principalId: keyId });
      expect(await other.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true, principalId: keyId });

      // A reset (found under load: 2 of 5 resets of a hot key answered a fault while their windows opened).
      for (let i = 0; i < 2; i++) expect(await other.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      state.written = false;
      state.throttled = 0;
      const reset = await admin.keys.resetQuota(keyId);
      expect(state.throttled).toBeGreaterThan(0);
      const fresh = await other.keys.get(keyId);
      expect(reset).toMatchObject({ keyId, asWritten: 'counts', quotaRemaining: 50, version: fresh.version });
      expect(fresh).toMatchObject({ quotaRemaining: 50 });
    },
    20_000,
  );

  it('answers a reset as the key is when its reads after it get through within their pauses', async () => {
    let pk = '';
    let throttles = 0;
    const client = lambdaClient();
    throttleAttempts(client, (command, p) => {
      if (command === 'TransactWriteItemsCommand' && p === '' && pk !== '') throttles = 4;
      else if (command === 'GetItemCommand' && p === pk && throttles > 0) {
        throttles--;
        return 'item';
      }
      return undefined;
    });
    const admin = pipelineOn(client, table.tableName);
    const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 86_400 });
    for (let i = 0; i < 3; i++) expect(await admin.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    pk = `key#${keyId}`;
    const reset = await admin.keys.resetQuota(keyId);
    expect(throttles).toBe(0);
    expect(reset.asWritten).toBeUndefined();
    expect(reset).toEqual(await admin.keys.get(keyId));
    expect(reset.quotaRemaining).toBe(3);
  });

  it('reads a key DynamoDB throttles again after a pause before its change (a reset under load)', async () => {
    let pk = '';
    let throttles = 0;
    const client = lambdaClient();
    throttleAttempts(client, (command, p) => {
      if (command !== 'GetItemCommand' || p !== pk || throttles === 0) return undefined;
      throttles--;
      return 'item';
    });
    const admin = pipelineOn(client, table.tableName);
    const { key, keyId } = await admin.keys.create({ quotaMax: 3, quotaRenewalRate: 86_400 });
    pk = `key#${keyId}`;
    for (let i = 0; i < 3; i++) expect(await admin.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    // More throttled attempts than the SDK's own retry takes (2): the admin's first reads all fail.
    throttles = 5;
    const reset = await admin.keys.resetQuota(keyId);
    expect(throttles).toBe(0);
    expect(reset).toMatchObject({ keyId, quotaRemaining: 3 });
  });

  it('still fails when a read fails for another reason than a throttle', async () => {
    let pk = '';
    let written = false;
    const client = lambdaClient();
    throttleAttempts(client, (command) => {
      if (command === 'UpdateItemCommand' || command === 'TransactWriteItemsCommand') written = true;
      return undefined;
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (written && context.commandName === 'GetItemCommand') throw new Error('connection reset (simulated)');
        return next(args);
      },
      { step: 'initialize', name: 'brokenReads' },
    );
    const admin = pipelineOn(client, table.tableName);
    const { keyId } = await admin.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    pk = `key#${keyId}`;
    written = false;
    await expect(admin.keys.update(keyId, { quotaMax: 50 })).rejects.toThrow('connection reset');
    expect(pk).not.toBe('');
  });
});
