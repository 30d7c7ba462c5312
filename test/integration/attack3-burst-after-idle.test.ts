import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { authorizerClient, drive, spreadKey } from '../support/hot-keys.ts';

const W = 10;

/**
 * Attack: a key spread over 32 counter items goes quiet for a minute, then is hammered
 * again by three instances behind the per-item ceiling. Every request finds the key cooled;
 * each successful cooling sends its request back to the pipeline to count again, and (the
 * session item's `filledAt` unmoved) the next attempt cools again: 32 → … → none takes six
 * of the pipeline's eight attempts, each a read of every counter item and a transaction over
 * all of them, while the key is hot. Requests run out of attempts (ContentionError) or meet
 * the throttled session item: 500s, though the counter items could take the load.
 */
describe('attack3: a burst on a spread key after a quiet minute', () => {
  let table: TestTable;
  const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: W });
  const offset = { ms: 0 };
  const clock = () => Date.now() + offset.ms;
  const pipelines = () => instances.map((instance) => instance.pipeline);
  let instances: ReturnType<typeof pipelineOn>[];

  beforeAll(async () => {
    table = await createTestTable('attack3-burst');
    instances = Array.from({ length: 3 }, () => {
      const raw = authorizerClient(ceiling);
      return pipelineOn(raw, table.tableName, { clock });
    });
  });
  afterAll(async () => {
    await table.drop();
  });

  it('answers without faults', async () => {
    const { key, keyId } = await instances[0]!.keys.create({ quotaMax: 1_000_000, quotaRenewalRate: 86_400 });
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 32);
    for (const { pipeline } of instances) expect((await pipeline.authorize(requestWith(key))).allow).toBe(true);
    offset.ms += COOL_MS + 1000;
    ceiling.reset();
    const answers = await drive(pipelines(), key, 3000);
    const faults = answers.filter((a) => a instanceof Error);
    // On the bug: 19 faults of 26 answers (ProvisionedThroughputExceededException, ContentionError); the same
    // burst without the quiet minute: 222 answers, no fault.
    const kinds = [...new Set(faults.map((f) => `${(f as Error).name}: ${(f as Error).message.slice(0, 80)}`))];
    // Under 5 %: on a starved CPU (CI runs the whole suite on 2 cores) a few requests meeting busy counter items spend
    // their 1.5 s budget and fail closed; the bug failed three answers in four.
    expect(faults.length, kinds.join('; ')).toBeLessThan(answers.length * 0.05);
  }, 30_000);
});
