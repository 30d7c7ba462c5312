import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MiddlewareStack } from '@smithy/types';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/** Counts the DynamoDB commands a document client sends, by name. */
function countCommands(stack: MiddlewareStack<any, any>): Map<string, number> {
  const counts = new Map<string, number>();
  stack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}

describe('the store and the pipeline on DynamoDB Local', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('ryw');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('decides on the session as last written: expiry, deactivation and renewal take effect on the next request', async () => {
    const nowMs = 1_750_000_000_000;
    const now = nowMs / 1000;
    const { pipeline, keys } = pipelineOn(table.client, table.tableName, { clock: () => nowMs });
    const { key, keyId } = await keys.create({ quotaMax: 10 });

    expect((await pipeline.authorize(requestWith(key))).allow).toBe(true);

    await keys.update(keyId, { expires: now });
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({
      allow: false,
      reason: 'session_expired',
      message: 'Key has expired, please renew',
    });

    await keys.update(keyId, { expires: now + 60, isInactive: true });
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: false, reason: 'key_inactive' });

    await keys.update(keyId, { isInactive: false });
    const decision = await pipeline.authorize(requestWith(key));
    expect(decision).toMatchObject({ allow: true, context: { keyId, quotaRemaining: 8, expires: now + 60 } });
  });

  it('increments version on every settings write and not on consumption', async () => {
    const { pipeline, keys } = pipelineOn(table.client, table.tableName);
    const { key, keyId, session } = await keys.create({ quotaMax: 5 });
    expect(session.version).toBe(1);

    await pipeline.authorize(requestWith(key));
    expect((await keys.get(keyId)).version).toBe(1);
    expect((await keys.update(keyId, { alias: 'renamed' })).version).toBe(2);
  });

  it('sends one conditional UpdateItem per allowed authorization once the settings are remembered, one GetItem for an unlimited key', async () => {
    const { pipeline, keys, doc } = pipelineOn(table.client, table.tableName);
    const counts = countCommands(doc.middlewareStack);
    const limited = await keys.create({ quotaMax: 1000, rate: 100, per: 1 });
    const unlimited = await keys.create({});
    counts.clear();

    // The first request reads the session (this instance has not seen it) and counts with one
    // write that opens the rate window; every later one is one conditional write, except the
    // first after the 1-second rate window closes, whose take fails and opens the next.
    for (let i = 0; i < 10; i++) expect((await pipeline.authorize(requestWith(limited.key))).allow).toBe(true);
    const limitedCounts = Object.fromEntries(counts);
    expect(limitedCounts.GetItemCommand).toBe(1);
    expect(limitedCounts.UpdateItemCommand).toBeGreaterThanOrEqual(10);
    expect(limitedCounts.UpdateItemCommand).toBeLessThanOrEqual(12);

    // Nothing to count: one consistent read per request, no write.
    counts.clear();
    for (let i = 0; i < 10; i++) expect((await pipeline.authorize(requestWith(unlimited.key))).allow).toBe(true);
    expect(Object.fromEntries(counts)).toEqual({ GetItemCommand: 10 });
  });

  it('lets counters an admin sets stand, and judges the count made so far by changed limits', async () => {
    const { pipeline, keys } = pipelineOn(table.client, table.tableName);
    const exact = await keys.create({ quotaMax: 100 });
    const lowered = await keys.create({ quotaMax: 100 });
    for (const key of [exact.key, lowered.key]) await pipeline.authorize(requestWith(key)); // 1 used, 99 left

    await keys.update(exact.keyId, { quotaMax: 50, quotaRemaining: 0 });
    await keys.update(lowered.keyId, { quotaMax: 2 });

    expect(await pipeline.authorize(requestWith(exact.key))).toMatchObject({ allow: false, reason: 'quota_exceeded' });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await pipeline.authorize(requestWith(lowered.key)));
    // 1 used under a quota lowered to 2: one more, then denied.
    expect(decisions.map((d) => d.allow)).toEqual([true, false, false]);
  });

  it('stores only the hash of a key, never the key itself', async () => {
    const { keys, doc } = pipelineOn(table.client, table.tableName);
    const { key, keyId } = await keys.create({ alias: 'secret-check' });
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const items = (await doc.send(new ScanCommand({ TableName: table.tableName }))).Items ?? [];
    const dump = JSON.stringify(items);
    expect(dump).toContain(keyId);
    expect(dump).not.toContain(key);
  });
});
