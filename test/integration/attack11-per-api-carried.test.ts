import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { counterItemPk, MAX_COUNTER_ITEMS } from '../../lambdas/core/store/counter-items.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { allowsOf, reasonsOf } from '../support/hot-account.ts';
import { drive, spreadKey } from '../support/hot-keys.ts';
import { pipelineOn } from '../support/pipeline.ts';

const QUOTA = 60;
/** The key's own quota is unlimited; api1 has a quota of its own, counted in its own scope (`…@api1`). */
const SESSION = { quotaMax: -1, accessRights: { api1: { limit: { quotaMax: QUOTA, quotaRenewalRate: 86_400 } } } };

/**
 * Attack (held): per-API leases carried. A hot key (4 counter items) whose only quota is
 * api1's (60 a day) is hammered by three instances — one of them authenticating through an
 * `auth` hook that answers the very session stored on every request (a write that names
 * nothing, or only the metaData the admin last changed) — while an admin PATCHes metaData
 * every 150 ms (each change moves every counter item, per-API leases included, to its
 * version). The per-API count must allow at most 60, and account exactly:
 * `quotaUsed@api1` = Allows + unspent api1 leases at the session's version and window.
 * Observed: with a quota of 15, 15 allowed then quota_exceeded (the quota ends before most
 * changes); with 60, 26 allowed in 4 s (9 workers: a request waits over a second while the
 * admin and the hook move the version), count 45 = 26 + 19 unspent, no stray api1 lease.
 */
describe('attack11: per-API leases carried through neutral changes and an auth hook answering the stored session', () => {
  let table: TestTable;
  let instances: ReturnType<typeof pipelineOn>[];

  beforeAll(async () => {
    table = await createTestTable('attack11-per-api-carried');
    instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
  });
  afterAll(async () => {
    await table.drop();
  });

  async function perApiAccount(pk: string) {
    const get = async (key: string) =>
      (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: key }, ConsistentRead: true }))).Item;
    const session = (await get(pk))!;
    const shards = (session.shards as number | undefined) ?? 0;
    let unspent = 0;
    const strays: string[] = [];
    for (let i = 0; i < MAX_COUNTER_ITEMS; i++) {
      const item = await get(counterItemPk(pk, i));
      if (item?.['quotaLease@api1'] === undefined) continue;
      const left = (item['quotaLease@api1'] as number) - (item['quotaSpent@api1'] as number);
      const counts =
        i < shards &&
        item.version === session.version &&
        item.incarnation === session.incarnation &&
        item['quotaStart@api1'] === session['quotaStart@api1'];
      if (counts) unspent += left;
      else if (left > 0 && item.incarnation === session.incarnation) strays.push(`#c${i}@v${String(item.version)}`);
    }
    return { used: session['quotaUsed@api1'] as number, unspent, version: session.version as number, strays };
  }

  it('allows at most the API’s quota, its account exact (held)', async () => {
    const admin = instances[0]!.keys;
    const { key, keyId } = await admin.create(SESSION);
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    const answering: GatepassPlugin = { name: 'auth-answers-stored', auth: () => ({ key, session: SESSION }) };
    let running = true;
    let changes = 0;
    const churn = (async () => {
      for (let i = 0; running; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        await admin.update(keyId, { metaData: { i } }).catch(() => undefined);
        changes++;
      }
    })();
    const pipelines = [instances[0]!.pipeline, instances[1]!.pipeline, instances[2]!.pipelineWith([answering])];
    const answers = await drive(pipelines, key, 4000, 3);
    running = false;
    await churn;
    const account = await perApiAccount(pk);
    const allowed = allowsOf(answers);
    const summary = JSON.stringify({ changes, reasons: reasonsOf(answers), allowed, account });
    console.log(summary);
    expect(allowed, summary).toBeLessThanOrEqual(QUOTA);
    expect(account.used, summary).toBe(allowed + account.unspent);
    expect(account.strays, summary).toEqual([]);
  }, 15_000);
});
