import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { forgetPastLives } from '../support/past-lives.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack (held): a key deleted and created again under the same raw key is the same partition
 * key, its settings `version` back at 1 (once the record of the deleted life's last version
 * is gone: see `past-lives.ts`), its `shards` written again, its counter items
 * `<pk>#c<i>` filled again, each window's count starting over — every value a stale write
 * compares comes back, but for the incarnation. Instance A's write is held (a fill, a
 * TransactWriteItems; or a spend, an UpdateItem) from the old life, where its payments GET
 * was granted, across the delete, the re-creation (payments by POST only now), the new
 * life's spreading and its payments leases; then released. Were it to land (a spend on a new
 * lease, a fill taking from the new count), A's GET would be allowed where the access rights
 * say no. It must land nowhere: A is denied, and the new life's payments quota allows its 50.
 */
describe('attack5: a write held across a delete and a re-creation of the same key', () => {
  let table: TestTable;
  let raw: DynamoDBClient;
  let held: string | undefined;
  let gate: Promise<void> | undefined;
  let gated: () => void = () => {};

  beforeAll(async () => {
    table = await createTestTable('attack5-recreate');
    raw = createDynamoClient(table.endpoint);
    raw.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === held && gate !== undefined) {
          const waiting = gate;
          gate = undefined;
          gated();
          await waiting;
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdOne' },
    );
  });
  afterAll(async () => {
    raw.destroy();
    await table.drop();
  });

  const session = async (pk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk }, ConsistentRead: true }))).Item as StoredSession;

  for (const command of ['TransactWriteItemsCommand', 'UpdateItemCommand']) {
    it(`a ${command === 'TransactWriteItemsCommand' ? 'fill' : 'spend'} from the old life allows nothing in the new one`, async () => {
      const a = pipelineOn(raw, table.tableName);
      const b = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
      const c = pipelineOn(createDynamoClient(table.endpoint), table.tableName);
      const limit = { quotaMax: 50, quotaRenewalRate: 86_400 };
      const { key, keyId } = await b.keys.create({
        quotaMax: 1000,
        quotaRenewalRate: 86_400,
        accessRights: { catalog: {}, payments: { limit } },
      });
      const pk = `key#${keyId}`;
      await spreadKey(table.doc, table.tableName, pk, 2);
      // The old life: catalog leases on both counter items, none for payments.
      for (let i = 0; i < 6; i++) await b.pipeline.authorize(requestWith(key, { apiId: 'catalog' }));

      // A's payments GET, decided in the old life (every method allowed): its spend, or its fill, is held.
      let release: () => void = () => {};
      held = command;
      gate = new Promise((resolve) => (release = resolve));
      const reached = new Promise<void>((resolve) => (gated = resolve));
      const pending = a.pipeline.authorize(requestWith(key, { apiId: 'payments', method: 'GET' }));
      await reached;

      // The key is deleted and made again from the same raw key: payments by POST only; it spreads and fills.
      await b.keys.delete(keyId);
      // Its versions start over (the record of its last life gone): only the incarnation tells the lives apart.
      await forgetPastLives(table.doc, table.tableName, pk);
      await b.keys.create({
        key,
        quotaMax: 1000,
        quotaRenewalRate: 86_400,
        accessRights: { catalog: {}, payments: { allowedUrls: [{ url: '/pets', methods: ['POST'] }], limit } },
      });
      await spreadKey(table.doc, table.tableName, pk, 2);
      const post = () => c.pipeline.authorize(requestWith(key, { apiId: 'payments', method: 'POST' }));
      let allowed = 0;
      for (let i = 0; i < 5; i++) if ((await post()).allow) allowed++;
      expect((await session(pk)).version).toBe(1);
      expect((await session(`${pk}#c0`)) ?? (await session(`${pk}#c1`))).toHaveProperty('quotaLease@payments');

      release();
      const answer = await pending;
      // A GET on payments is not granted in the new life.
      expect(answer.allow).toBe(false);
      expect((answer as { reason?: string }).reason).toBe('url_not_allowed');
      for (let i = 0; i < 80; i++) if ((await post()).allow) allowed++;
      expect(allowed).toBe(50);
    }, 20_000);
  }
});
