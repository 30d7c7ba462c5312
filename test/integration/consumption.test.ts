import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySessionPk } from '../../lambdas/core/model/keys.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { concurrently, pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Rate limit and quota on real DynamoDB semantics (DynamoDB Local): hundreds of
 * concurrent authorizations against one key, counted exactly (invariant I5).
 */
describe('consumption under concurrency', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('consumption');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('allows exactly quotaMax of 200 concurrent requests and leaves 50 used', async () => {
    const { pipeline, keys, store } = pipelineOn(table.client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: 50 });

    const decisions = await concurrently(200, () => pipeline.authorize(requestWith(key)));

    const allowed = decisions.filter((d) => d.allow).length;
    const denied = decisions.filter((d) => !d.allow);
    expect(allowed).toBe(50);
    expect(denied.every((d) => !d.allow && d.reason === 'quota_exceeded')).toBe(true);
    expect((await store.get(keySessionPk(keyId)))!.quotaUsed).toBe(50);
  });

  it('gives each quota window exactly quotaMax when it rolls over under concurrency', async () => {
    let nowMs = 1_800_000_000_000;
    const clock = () => nowMs;
    const { pipeline, keys, store } = pipelineOn(table.client, table.tableName, { clock });
    const { key, keyId } = await keys.create({ quotaMax: 20, quotaRenewalRate: 60 });

    // First window: opened at creation; exhaust it.
    const first = await concurrently(100, () => pipeline.authorize(requestWith(key)));
    expect(first.filter((d) => d.allow).length).toBe(20);

    // Past quotaRenews: 100 concurrent requests race to open the next window; one does.
    nowMs += 61_000;
    const second = await concurrently(100, () => pipeline.authorize(requestWith(key)));
    expect(second.filter((d) => d.allow).length).toBe(20);
    const stored = (await store.get(keySessionPk(keyId)))!;
    expect(stored.quotaUsed).toBe(20);
    expect(stored.quotaStart).toBe(nowMs);
  });

  it('never allows more than quotaMax per window when requests straddle the renewal', async () => {
    let base = 1_900_000_000_000;
    const { pipeline, keys } = pipelineOn(table.client, table.tableName, { clock: () => base });
    const { key } = await keys.create({ quotaMax: 10, quotaRenewalRate: 60, quotaRemaining: 5 });

    // Half the requests see the old window (1 s before renewal), half the new one.
    const renewsMs = base + 60_000;
    const at = (ms: number) => pipelineOn(table.client, table.tableName, { clock: () => ms }).pipeline;
    const before = at(renewsMs - 1000);
    const after = at(renewsMs + 1000);
    const decisions = await concurrently(120, (i) => (i % 2 ? before : after).authorize(requestWith(key)));

    const allowed = decisions.filter((d) => d.allow).length;
    // 5 left in the old window + 10 in the new one: never more, and the new window is used up.
    expect(allowed).toBeGreaterThanOrEqual(10);
    expect(allowed).toBeLessThanOrEqual(15);
    base = renewsMs + 2000;
    expect((await pipeline.authorize(requestWith(key))).allow).toBe(false);
  });

  it('enforces rate/per exactly under concurrency and tells when to retry', async () => {
    const nowMs = 1_700_000_000_000;
    const { pipeline, keys } = pipelineOn(table.client, table.tableName, { clock: () => nowMs });
    const { key } = await keys.create({ rate: 10, per: 60 });

    const decisions = await concurrently(150, () => pipeline.authorize(requestWith(key)));

    expect(decisions.filter((d) => d.allow).length).toBe(10);
    const limited = decisions.filter((d) => !d.allow);
    expect(limited.every((d) => !d.allow && d.reason === 'rate_limited' && d.context.retryAfter === 60)).toBe(true);
  });

  it('opens a new rate window after the previous one closes', async () => {
    let nowMs = 1_700_000_500_000;
    const { pipeline, keys } = pipelineOn(table.client, table.tableName, { clock: () => nowMs });
    const { key } = await keys.create({ rate: 3, per: 10 });

    const first = await concurrently(10, () => pipeline.authorize(requestWith(key)));
    nowMs += 10_000; // exactly when the window closes
    const second = await concurrently(10, () => pipeline.authorize(requestWith(key)));

    expect(first.filter((d) => d.allow).length).toBe(3);
    expect(second.filter((d) => d.allow).length).toBe(3);
  });

  it('checks rate and quota together: a rate-limited request consumes no quota', async () => {
    const nowMs = 1_700_001_000_000;
    const { pipeline, keys, store } = pipelineOn(table.client, table.tableName, { clock: () => nowMs });
    const { key, keyId } = await keys.create({ rate: 5, per: 60, quotaMax: 100 });

    await concurrently(50, () => pipeline.authorize(requestWith(key)));

    expect((await store.get(keySessionPk(keyId)))!.quotaUsed).toBe(5);
  });
});
