import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { spreadingClient } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack23 (found against a first version that kept the item read before a cooling as a hint
 * when its re-read was throttled; fixed: only the number of counter items left is kept, and
 * 12 of 12 are allowed here): a fill planned on the cooled hint lands (its condition checks the real room), and
 * `afterFill` then remembers the hint's counts — from before the cooling, still counting the
 * leases it gave back — plus the fill, as a fresh item. Within half a second, a count that
 * finds the new leases spent denies on it ("no room" on a fresh view), while the quota has
 * most of the given-back room.
 *
 * Setup: quota 80 spread over 8 (leases of 10); #c0–#c3 spent to their lease; 4 of #c7's lease
 * taken back (session quotaUsed 76: room 4 left unleased). Clock past the cooling time; from the
 * moment the cooling lands every session GetItem of this instance is throttled (writes not).
 */
describe('attack23: a fill on the cooled hint, then a denial on its counts', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a23-hint-fill');
  });
  afterAll(async () => {
    await table.drop();
  });

  for (const onlyFirst of [false, true])
    it(`denies no request while the quota has room (session reads throttled ${onlyFirst ? 'during the cooling request only' : 'throughout'})`, async () => {
      const state = { pk: '', throttles: 2 };
      const client = spreadingClient(state);
      let nowMs = 0; // the clock runs, moved on by this much
      let armed = false;
      let landed = false;
      const log: string[] = [];
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const command = String(context.commandName);
          const input = JSON.stringify((args as { input?: unknown }).input ?? {});
          const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
          if (armed && landed && command === 'GetItemCommand' && p === state.pk) {
            log.push('get throttled');
            const { ProvisionedThroughputExceededException } = await import('@aws-sdk/client-dynamodb');
            throw new ProvisionedThroughputExceededException({ message: 'throttled (simulated)', $metadata: {} });
          }
          if (armed) log.push(`${command} ${p.replace(state.pk, '')}`);
          const out = await next(args);
          if (armed && command === 'TransactWriteItemsCommand' && input.includes('"Delete"')) {
            landed = true;
            log.push('cooling landed');
          }
          return out;
        },
        { step: 'deserialize', priority: 'low', name: 'attack23' },
      );
      const a = pipelineOn(client, table.tableName, { clock: () => Date.now() + nowMs });
      const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
      const pk = `key#${keyId}`;
      state.pk = pk;
      const get = async (p: string) =>
        (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: p }, ConsistentRead: true }))).Item;
      expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      const spread = (await get(pk)) as StoredSession;
      expect(spread.shards).toBe(8);
      expect(spread.quotaUsed).toBe(80);
      for (let i = 0; i < 4; i++)
        await table.doc.send(
          new UpdateCommand({ TableName: table.tableName, Key: { pk: `${pk}#c${i}` }, UpdateExpression: 'SET quotaSpent = quotaLease' }),
        );
      // 4 of #c7's lease were never leased: the session item has room 4 left to lease.
      await table.doc.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk: `${pk}#c7` },
          UpdateExpression: 'SET quotaLease = quotaLease - :f',
          ExpressionAttributeValues: { ':f': 4 },
        }),
      );
      await table.doc.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { pk },
          UpdateExpression: 'SET quotaUsed = quotaUsed - :f',
          ExpressionAttributeValues: { ':f': 4 },
        }),
      );
      /** Requests counted: the session item's count less the leases not spent on its counter items. */
      const realUsed = async () => {
        const s = (await get(pk)) as StoredSession;
        let unspent = 0;
        for (let i = 0; i < (s.shards ?? 0); i++) {
          const c = await get(`${pk}#c${i}`);
          if (c !== undefined && c.quotaStart === s.quotaStart) unspent += (c.quotaLease as number) - (c.quotaSpent as number);
        }
        return { used: (s.quotaUsed ?? 0) - unspent, shards: s.shards ?? 0, quotaUsed: s.quotaUsed };
      };
      const before = await realUsed();
      nowMs += COOL_MS + 1000;
      armed = true;
      const answers: string[] = [];
      const denialsWithRoom: unknown[] = [];
      for (let i = 0; i < 12; i++) {
        if (i === 1 && onlyFirst) armed = false;
        const r = await a.pipeline.authorize(requestWith(key)).catch((error: Error) => error);
        const tag = r instanceof Error ? `error:${r.message}` : r.allow ? 'allow' : `deny:${(r as { reason?: string }).reason}`;
        answers.push(tag);
        if (tag.startsWith('deny')) {
          const real = await realUsed();
          if (real.used < 80) denialsWithRoom.push({ i, ...real });
        }
      }
      armed = false;
      const summary = JSON.stringify({
        onlyFirst,
        before,
        landed,
        answers,
        denialsWithRoom,
        after: await realUsed(),
        log: log.slice(0, 40),
      });
      console.log(summary);
      expect(landed, summary).toBe(true);
      expect(denialsWithRoom, summary).toEqual([]);
      expect(
        answers.filter((t) => t.startsWith('error')),
        summary,
      ).toEqual([]);
    }, 30_000);
});
