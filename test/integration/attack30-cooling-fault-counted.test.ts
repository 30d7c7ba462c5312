import { InternalServerError } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spentOn, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack30 (lost answers of counted requests, shared by every request of an instance): a spend that lands is the
 * request's Allow, counted. When the counter item it spent on says the key has cooled, the request then tries the
 * cooling — opportunistic ("a later request tries") — once per key at a time in the instance (`OncePerKey`), and
 * awaits it before answering (`Leases.count`, `if (spend.ok)`). A fault of the cooling's first read (a DynamoDB 500,
 * or a request timeout, twice: the SDK's two attempts) is thrown out of the count: the request, counted, fails closed
 * — and so does every request of the instance that joined the same cooling. While the fault lasts, every request on
 * the key spends and then fails.
 * Expected: each request whose spend landed is answered Allow (the cooling is left for later, as when it is busy).
 */
describe('attack30: a failed opportunistic cooling discards Allows already counted', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a30-cool-fault');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('requests counted on leases are answered Allow when the cooling they try meets a fault', async () => {
    let nowMs = Date.now();
    let armed = false;
    let pk = '';
    let faults = 0;
    const client = lambdaClient();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
        if (armed && String(context.commandName) === 'GetItemCommand' && p === pk) {
          faults++;
          throw new InternalServerError({ message: 'internal server error (simulated)', $metadata: { httpStatusCode: 500 } });
        }
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'attack30coolFault' },
    );
    const A = pipelineOn(client, table.tableName, { clock: () => nowMs });
    const { key, keyId } = await A.keys.create({ quotaMax: 1_000_000, quotaRenewalRate: 86_400 });
    pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    for (let i = 0; i < 40; i++) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    const before = await spentOn(table, pk, 8);
    nowMs += COOL_MS + 1000;
    armed = true;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        A.pipeline.authorize(requestWith(key)).then(
          (d) => (d.allow ? 'allow' : d.reason),
          (e: Error) => `500 ${e.name}`,
        ),
      ),
    );
    armed = false;
    const counted = (await spentOn(table, pk, 8)) - before;
    const allowed = answers.filter((a) => a === 'allow').length;
    expect({ allowed, counted }, JSON.stringify({ answers, faults })).toEqual({ allowed: counted, counted });
  });
});
