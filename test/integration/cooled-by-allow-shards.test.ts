import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * An allowed request whose spend shows the key cold (no fill for the cooling time) cools it:
 * 4 counter items become 2, #c2 and #c3 deleted. The instance's next request must count on
 * the 2 the key now has. Found under load (attack13-spread-cools-held, about 1 run in 3): the
 * allowed request answered the key with its 4 counter items as before, the next one drew
 * #c3 and #c2 (missing), then filled #c1 with them — and a fill that names counter items
 * beyond the session item's `shards` fails on it every time, 6 fills per count, until the
 * request failed closed. Here the draws are made highest first (`Math.random` held near 1).
 */
describe('a key cooled by an allowed request', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('cooled-by-allow');
  });
  afterAll(async () => {
    await table.drop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is counted on the counter items it has left by the next request', async () => {
    let nowMs = Date.now();
    const client = lambdaClient();
    const writes: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          writes.push(`${context.commandName}: ${(error as Error).name}`);
          throw error;
        }
      },
      { step: 'initialize', name: 'failedWrites' },
    );
    const { pipeline, keys, store } = pipelineOn(client, table.tableName, { clock: () => nowMs });
    const { key, keyId } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    // Leases on the counter items the first requests draw (a fill each time one is found empty).
    for (let i = 0; i < 6; i++) expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect(await store.get(pk)).toMatchObject({ shards: 4 });

    nowMs += COOL_MS + 1000;
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    // Drawn highest first: #c3 holds a lease (filled above), and this allowed request cools the key to 2.
    expect(await pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect(await store.get(pk)).toMatchObject({ shards: 2 });
    writes.length = 0;
    const next = await pipeline.authorize(requestWith(key)).catch((error: Error) => error);
    const summary = JSON.stringify({ next: next instanceof Error ? next.name : next.allow, writes });
    expect(next, summary).toMatchObject({ allow: true });
    expect(writes.filter((w) => w.startsWith('TransactWriteItems')).length, summary).toBeLessThanOrEqual(1);
    expect((await keys.get(keyId)).quotaRemaining).toBe(1000 - 8);
  }, 15_000);
});
