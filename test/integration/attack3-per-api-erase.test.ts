import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import type { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { spreadKey } from '../support/hot-keys.ts';

/**
 * Attack: one counter item holds the leases of every scope of the key (its own, and each
 * API with limits of its own). A fill for one scope Puts the whole item, copying the other
 * scopes' leases as it saw them on its failed spend, on the sole condition that no *fill*
 * landed since: the other scopes' spends that landed in between are undone, and spent again.
 * No clock skew is needed: requests to an API with its own limits refill their scope while
 * requests to the key's other APIs spend on the same item. Every such fill that overlaps a
 * spend of another scope undoes it.
 */
describe('attack3: a per-API fill undoes the key scope spends', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('attack3-per-api');
  });
  afterAll(async () => {
    await table.drop();
  });

  const spread = (keyId: string, shards: number) => spreadKey(table.doc, table.tableName, `key#${keyId}`, shards);
  const fields = (catalogQuota: number, payments: object) => ({
    quotaMax: catalogQuota,
    quotaRenewalRate: 86_400,
    accessRights: { payments: { limit: payments }, catalog: {} },
  });

  it('step by step: a payments fill held while the key scope spends its lease', async () => {
    const { keys, pipeline: a } = pipelineOn(table.client, table.tableName);
    let gate: Promise<void> | undefined;
    let gated: () => void = () => {};
    const rawB = createDynamoClient(table.endpoint);
    rawB.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && gate !== undefined) {
          gated();
          await gate;
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdTransactions' },
    );
    const b = pipelineOn(rawB, table.tableName).pipeline;
    const quota = 10;
    const { key, keyId } = await keys.create(fields(quota, { quotaMax: 100, quotaRenewalRate: 86_400 }));
    await spread(keyId, 1);
    const catalog = () => a.authorize(requestWith(key, { apiId: 'catalog' }));
    let allowed = 0;
    const count = (d: Decision) => {
      if (d.allow) allowed++;
    };
    for (let i = 0; i < 5; i++) count(await catalog());

    let release: () => void = () => {};
    gate = new Promise((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (gated = resolve));
    const payments = b.authorize(requestWith(key, { apiId: 'payments' }));
    await reached;
    for (let i = 0; i < 6; i++) count(await catalog());
    expect(allowed).toBe(quota);
    gate = undefined;
    release();
    expect((await payments).allow).toBe(true);

    for (let i = 0; i < 6; i++) count(await catalog());
    // On the bug: 15 (the 5 catalog spends made while the payments fill was in flight, spent again).
    expect(allowed).toBeLessThanOrEqual(quota);
  });

  it('under load: three instances, a rate-limited API and the key quota on the same counter items', async () => {
    const instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
    const quota = 40;
    // payments: 8 a second over 8 counter items, a lease of 1: every payments request fills.
    const { key, keyId } = await instances[0]!.keys.create(fields(quota, { rate: 8, per: 1 }));
    await spread(keyId, 8);
    const until = Date.now() + 5000;
    let allowed = 0;
    await Promise.all(
      instances.flatMap(({ pipeline }: { pipeline: Pipeline }) =>
        Array.from({ length: 8 }, async (_, w) => {
          const apiId = w % 2 === 0 ? 'catalog' : 'payments';
          while (Date.now() < until) {
            const d = await pipeline.authorize(requestWith(key, { apiId })).catch(() => undefined);
            if (apiId === 'catalog' && d?.allow) allowed++;
          }
        }),
      ),
    );
    expect(allowed).toBeLessThanOrEqual(quota);
  }, 30_000);
});
