import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { LeaseWrites } from '../../lambdas/core/store/lease-writes.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack (held): the same changes (a cooling, a reset, a raise) landing while instance B
 * remembers the session item from its last request (a "fresh" view, under half a second old),
 * instead of in the middle of a count. B's first request is denied on its view (80 of 80, #c7
 * throttled there); the change lands; B's next request, at once, finds the counter items
 * missing: the remembered view is stale, it reads the session item, and counts on it.
 * Observed (3 runs each): B's first request denied `quota_exceeded` (as documented: #c7's
 * lease not tried), its second allowed after the change (the session item at 70 of 80, 0 of
 * 80, 80 of 200 before it; B then fills on the room).
 */
async function retryBusy<T>(ask: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await ask();
    } catch (error) {
      if (tries === 3 || (error as Error).name !== 'ContentionError') throw error;
    }
  }
}

describe('attack19: a hot key cooled while an instance remembers its session item', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a19-cooled-remembered');
  });
  afterAll(async () => {
    await table.drop();
  });

  it.each(['cooling', 'reset', 'raise'] as const)(
    'is not denied on the remembered view after a %s',
    async (change) => {
      let sessionPk = '';
      let throttlesA = 0;
      const clientA = lambdaClient();
      throttleAttempts(clientA, (command, p) => {
        if (command !== 'UpdateItemCommand' || p !== sessionPk || throttlesA === 0) return undefined;
        throttlesA--;
        return 'item';
      });
      const a = pipelineOn(clientA, table.tableName);
      const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
      const pk = `key#${keyId}`;
      sessionPk = pk;
      const get = async (p: string) =>
        (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: p }, ConsistentRead: true }))).Item;
      // A's first request spreads the key over 8 counter items and leases the whole quota to them.
      throttlesA = 2;
      expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      expect(await a.store.get(pk)).toMatchObject({ shards: 8, quotaUsed: 80 });
      // Counter items 0-6 spent to their lease (their requests allowed elsewhere); #c7 still holds its lease.
      for (let i = 0; i < 7; i++)
        await table.doc.send(
          new UpdateCommand({ TableName: table.tableName, Key: { pk: `${pk}#c${i}` }, UpdateExpression: 'SET quotaSpent = quotaLease' }),
        );
      const c7 = (await get(`${pk}#c7`))!;
      const held = (c7.quotaLease as number) - (c7.quotaSpent as number);

      // Instance B: #c7 is hot there (throttled).
      const clientB = lambdaClient();
      throttleAttempts(clientB, (command, p) => (command === 'UpdateItemCommand' && p === `${pk}#c7` ? 'item' : undefined));
      const state = { cooled: false, log: [] as string[] };
      const b = pipelineOn(clientB, table.tableName);
      const reason = (d: { allow: boolean }) => (d.allow ? 'allow' : String((d as { reason?: string }).reason));
      // On a starved CPU B's denial (7 spent counter items, #c7 busy) may run past its 1.5 s busy budget and fail closed
      // (ContentionError): nothing has changed yet, so B asks again. What this attack is about is B's request after the change.
      const firstDecision = await retryBusy(async () => reason(await b.pipeline.authorize(requestWith(key))));
      state.cooled = true;
      if (change === 'cooling') {
        const session = (await get(pk)) as StoredSession;
        state.log.push(`cooled: ${await new LeaseWrites(table.doc, table.tableName).cool(session, Date.now() + COOL_MS + 1000)}`);
      } else if (change === 'reset') await a.keys.resetQuota(keyId);
      else await a.keys.update(keyId, { quotaMax: 200 });
      const changed = ((await get(pk)) as StoredSession).quotaUsed ?? 0;
      // A fail-closed answer (a starved CPU) is no denial on the stale view; a `quota_exceeded` is.
      const decision = await b.pipeline.authorize(requestWith(key)).catch((error: Error) => error);
      const after = (await get(pk)) as StoredSession;
      const summary = JSON.stringify({
        held,
        firstDecision,
        changed,
        decision: decision instanceof Error ? decision.name : reason(decision),
        cooled: state.cooled,
        after: { quotaUsed: after.quotaUsed, shards: after.shards ?? 0 },
        log: state.log,
      });
      console.log(summary);
      expect(firstDecision, summary).toBe('quota_exceeded');
      expect(changed, summary).toBeLessThan(change === 'raise' ? 200 : 80);
      if (decision instanceof Error) expect(decision.name, summary).toBe('ContentionError');
      else expect(decision.allow, summary).toBe(true);
    },
    15_000,
  );
});
