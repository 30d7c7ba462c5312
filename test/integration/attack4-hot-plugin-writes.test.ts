import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin, SessionInit } from '../../lambdas/core/plugins/plugin.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attacks on a hot key through the plugins' session writes, which bypass the counting code:
 * a postAuth hook that saves back the (uncounted, leased) session it read with `sessions.set`,
 * and one that patches a setting with `updateSession`, on some requests of three instances,
 * while the others spend and fill the key's counter items. Each write is a settings change
 * (version + 1) that revokes every lease in its transaction, and every fill and spend is
 * conditioned on the version: the quota held in every run so far.
 */
describe('attack4: plugin session writes on a hot key', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('attack4-hot-plugin');
  });
  afterAll(async () => {
    await table.drop();
  });

  const spread = (pk: string, shards: number) =>
    table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk },
        UpdateExpression: 'SET shards = :s',
        ExpressionAttributeValues: { ':s': shards },
      }),
    );

  it('three instances, sessions.set and updateSession on one hooked request in five: never more than the quota', async () => {
    let n = 0;
    const writer: GatepassPlugin = {
      name: 'renew-and-tag',
      async postAuth(ctx) {
        const turn = n++ % 10;
        if (turn === 0)
          await ctx.sessions.set(ctx.request.headers.authorization!, { ...(ctx.session as SessionInit), expires: ctx.now + 600 });
        if (turn === 5) await ctx.updateSession({ metaData: { seen: ctx.now } });
      },
    };
    const instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
    const quota = 60;
    const { key, keyId } = await instances[0]!.keys.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    await spread(`key#${keyId}`, 8);
    const until = Date.now() + 4000;
    let allowed = 0;
    let faults = 0;
    await Promise.all(
      instances.flatMap(({ pipelineWith }) => {
        const plain = pipelineWith();
        const hooked = pipelineWith([writer]);
        return Array.from({ length: 6 }, async (_, w) => {
          const pipeline = w % 3 === 0 ? hooked : plain;
          while (Date.now() < until) {
            const d = await pipeline.authorize(requestWith(key)).catch(() => {
              faults++;
              return undefined;
            });
            if (d?.allow) allowed++;
          }
        });
      }),
    );
    expect(allowed).toBeLessThanOrEqual(quota);
    // Not vacuous: requests were allowed while leases were being revoked (a loaded machine reaches a third to all of the quota in 4 s).
    expect(allowed).toBeGreaterThan(quota / 4);
    expect(faults).toBeLessThan(50);
  }, 30_000);
});
