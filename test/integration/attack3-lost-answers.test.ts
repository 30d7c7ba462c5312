import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { lossyClient, type LossyClient } from '../support/lossy-client.ts';
import { concurrently, requestWith } from '../support/pipeline.ts';
import { spreadKey } from '../support/hot-keys.ts';

/**
 * Attack (held): lost answers on a hot key. Every spend (UpdateItem) and every fill, cooling
 * or revocation (TransactWriteItems) lands and its answer is lost; the SDK sends it again.
 * A spend sent again spends twice for one Allow, a fill sent again carries the same client
 * token (or fails on its counter item's `fills`): never two Allows for one lease unit.
 * Kept as a regression test.
 */
describe('attack3: lost answers on a hot key, three instances', () => {
  let table: TestTable;
  let lossy: LossyClient[];
  let instances: Pipeline[];
  let keys: KeyService;

  beforeAll(async () => {
    table = await createTestTable('attack3-lost');
    const config = parseConfig(JSON.stringify({ tableName: table.tableName }));
    lossy = Array.from({ length: 3 }, () => lossyClient(table.endpoint, { commands: ['UpdateItemCommand', 'TransactWriteItemsCommand'] }));
    instances = lossy.map(({ doc }) => {
      const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: config.sessionRetentionSeconds });
      return new Pipeline({ config, store, log: silentLog });
    });
    keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 0 }));
  });
  afterAll(async () => {
    for (const l of lossy) l.destroy();
    await table.drop();
  });

  for (const limits of [
    { quotaMax: 40, quotaRenewalRate: 86_400 },
    { rate: 40, per: 60, quotaMax: 50, quotaRenewalRate: 86_400 },
  ]) {
    it(`never allows more than the limit: ${JSON.stringify(limits)}`, async () => {
      const { key, keyId } = await keys.create(limits);
      await spreadKey(table.doc, table.tableName, `key#${keyId}`, 4);
      // One request at a time per instance (the lossy client loses every other answer of its own sends).
      const answers: (Decision | Error)[] = [];
      for (let round = 0; round < 20; round++)
        answers.push(...(await concurrently(3, (i) => instances[i]!.authorize(requestWith(key)).catch((error: Error) => error))));
      const allowed = answers.filter((a) => !(a instanceof Error) && a.allow).length;
      expect(lossy.reduce((sum, l) => sum + l.lost(), 0)).toBeGreaterThan(10);
      expect(allowed).toBeGreaterThan(0);
      expect(allowed).toBeLessThanOrEqual(40);
    }, 30_000);
  }
});
