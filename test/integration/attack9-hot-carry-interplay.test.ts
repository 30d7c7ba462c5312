import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { COOL_MS } from '../../lambdas/core/store/counter-items.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createDynamoClient } from '../../local/table.ts';
import { ThroughputCeiling } from '../../local/throughput-ceiling.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { allowsOf, hotAccount, reasonsOf } from '../support/hot-account.ts';
import { authorizerClient, drive, spreadKey } from '../support/hot-keys.ts';
import { loseNextTransactionAnswer, lossyClient } from '../support/lossy-client.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * Attacks (held) on a hot key whose changes carry the leases (`keepsLeases`), three instances
 * hammering it while the carries meet what else moves its counter items: cooling (halving
 * while a change carries), growing under a per-item ceiling (`raiseShards` and blind fills of
 * freshly added items, which a carry's empty items must refuse), a policy edit (lease tags),
 * and a carrying change whose answer is lost (its re-send failing, or landing under its token).
 * Each must allow no more than the quota, keep the account exact (the session item's count =
 * the Allows + the unspent leases it still counts, a fault at most one more), and leave no
 * lease the session does not count (`strays`).
 * Observed on a loaded 2-core machine: cooling (the clocks jumping a cooling time every
 * 300 ms, a change every 100 ms) 13 allowed of 200 (each request waits seconds: the key halves
 * under it again and again), exact, cooled to its session item; growth to 32 counter items,
 * 41 allowed of 300, 50 unspent, exact; policy edits 60 of 60; lost answer: the PATCH fails
 * after it landed, its leases carried (version +1), 80 of 80; re-sent by the SDK under its
 * token after fills landed: applied once (version +1), 72 allowed, 3 unspent, exact. No stray
 * lease anywhere.
 */
describe('attack9: carried leases meet cooling, growing, policy edits and lost answers', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('attack9-interplay');
  });
  afterAll(async () => {
    await table.drop();
  });

  /** Calls `change(i)` every `everyMs` until `done()`; how many landed. */
  async function churn(done: () => boolean, everyMs: number, change: (i: number) => Promise<unknown>): Promise<number> {
    let landed = 0;
    for (let i = 0; !done(); i++) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      await change(i).then(
        () => landed++,
        () => undefined,
      );
    }
    return landed;
  }

  /** `workers` loops per pipeline drive `key` for 3.5 s while `change(i)` runs every `everyMs`: the answers, and how many changes landed. */
  async function driveWhileChanging(
    pipelines: readonly Pipeline[],
    key: string,
    workers: number,
    everyMs: number,
    change: (i: number) => Promise<unknown>,
  ) {
    let done = false;
    const changes = churn(() => done, everyMs, change);
    const answers = await drive(pipelines, key, 3500, workers);
    done = true;
    return { answers, landed: await changes };
  }

  function expectExact(account: Awaited<ReturnType<typeof hotAccount>>, answers: readonly unknown[], quota: number, summary: string) {
    const allowed = allowsOf(answers as never);
    const faults = answers.filter((a) => a instanceof Error).length;
    expect(allowed, summary).toBeLessThanOrEqual(quota);
    expect(account.used - account.unspent, summary).toBeGreaterThanOrEqual(allowed);
    expect(account.used - account.unspent, summary).toBeLessThanOrEqual(allowed + faults);
    expect(account.strays, summary).toEqual([]);
  }

  it('cooling while neutral changes carry the leases: never more than the quota, the account exact', async () => {
    const offset = { ms: 0 };
    const clock = () => Date.now() + offset.ms;
    const instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName, { clock }));
    const admin = instances[0]!.keys;
    const quota = 200;
    const { key, keyId } = await admin.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    let done = false;
    const changes = churn(
      () => done,
      100,
      (i) => (i % 2 === 0 ? admin.update(keyId, { metaData: { i } }) : admin.rotate(keyId, { graceSeconds: 3600 })),
    );
    // Every 300 ms the key has not leased for a cooling time, as its clocks see it: it halves while changes carry.
    const cooling = churn(
      () => done,
      300,
      async () => {
        offset.ms += COOL_MS + 1000;
      },
    );
    const answers = await drive(
      instances.map((x) => x.pipeline),
      key,
      3500,
      4,
    );
    done = true;
    const landed = await changes;
    await cooling;
    const account = await hotAccount(table.doc, table.tableName, pk);
    const summary = JSON.stringify({ landed, reasons: reasonsOf(answers), ...account });
    console.log('cooling', summary);
    expectExact(account, answers, quota, summary);
  }, 20_000);

  it('growing under a per-item ceiling while neutral changes carry: the carry creates the added items, nothing over-grants', async () => {
    const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: 10 });
    const instances = Array.from({ length: 3 }, () => pipelineOn(authorizerClient(ceiling), table.tableName));
    const admin = pipelineOn(createDynamoClient(table.endpoint), table.tableName).keys;
    const quota = 300;
    const { key, keyId } = await admin.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    ceiling.reset();
    const { answers, landed } = await driveWhileChanging(
      instances.map((x) => x.pipeline),
      key,
      6,
      100,
      (i) => admin.update(keyId, { metaData: { i }, quotaMax: quota }),
    );
    const account = await hotAccount(table.doc, table.tableName, pk);
    const summary = JSON.stringify({ landed, reasons: reasonsOf(answers), ...account });
    console.log('growing', summary);
    expect(account.shards, summary).toBeGreaterThanOrEqual(8);
    expectExact(account, answers, quota, summary);
  }, 20_000);

  it('a policy edit (a new lease tag) amid neutral changes: the carried tag never lets an old view over-grant', async () => {
    const config = parseConfig(JSON.stringify({ tableName: table.tableName }));
    const plainDoc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    const policyAdmin = new PolicyStore({ client: plainDoc, tableName: table.tableName, cacheSeconds: 0 });
    const keys = new KeyService(new SessionStore({ client: plainDoc, tableName: table.tableName, retentionSeconds: 60 }), undefined, {
      policies: policyAdmin,
    });
    const pipelines = Array.from({ length: 3 }, (_, i) => {
      const doc = DynamoDBDocumentClient.from(createDynamoClient(table.endpoint), { marshallOptions: { removeUndefinedValues: true } });
      const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: config.sessionRetentionSeconds });
      // Instance 0 sees policy edits within a second; 1 and 2 keep the old version for a minute.
      const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: i === 0 ? 1 : 60 });
      return new Pipeline({ config, store, log: silentLog, policies });
    });
    const quota = 60;
    const plan: PolicyInput = { quotaMax: quota, quotaRenewalRate: 86_400, accessRights: { api1: {} } };
    const fields = (input: PolicyInput): PolicyFields => {
      const parsed = parsePolicyInput(input);
      if (!parsed.success) throw new Error('bad test policy');
      return parsed.data;
    };
    await policyAdmin.put('attack9-plan', fields(plan));
    const { key, keyId } = await keys.create({ applyPolicies: ['attack9-plan'] });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    const { answers, landed } = await driveWhileChanging(pipelines, key, 4, 120, (i) =>
      i % 5 === 2
        ? policyAdmin.put('attack9-plan', fields({ ...plan, tags: [`edit-${i}`] }))
        : keys.update(keyId, { metaData: { i }, applyPolicies: ['attack9-plan'] }),
    );
    const account = await hotAccount(table.doc, table.tableName, pk);
    const summary = JSON.stringify({ landed, reasons: reasonsOf(answers), ...account });
    console.log('policy', summary);
    expectExact(account, answers, quota, summary);
  }, 20_000);

  it('a carrying PATCH whose answer is lost while the key is hammered, sent again: exact, the leases carried', async () => {
    const client = lambdaClient();
    const lost = loseNextTransactionAnswer(client, () =>
      Object.assign(new Error('Request timed out after 400 ms'), { name: 'TimeoutError', $metadata: {} }),
    );
    const adminDoc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const admin = new KeyService(new SessionStore({ client: adminDoc, tableName: table.tableName, retentionSeconds: 60 }));
    const instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
    const quota = 80;
    const { key, keyId } = await admin.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    const pipelines = instances.map((x) => x.pipeline);
    const answers = await drive(pipelines, key, 400, 2);
    const before = await hotAccount(table.doc, table.tableName, pk);
    // The PATCH lands; while its answer is lost, the key is hammered on the version it made.
    lost.arm(async () => {
      for (const answer of await drive(pipelines, key, 500, 2)) answers.push(answer);
    });
    const first = await admin.update(keyId, { metaData: { plan: 'gold' } }).catch((error: Error) => error);
    expect(first).toBeInstanceOf(Error);
    expect(lost.landings).toBe(1);
    const middle = await hotAccount(table.doc, table.tableName, pk);
    // The person sends it again (no If-Match): the key already is as it asks, so it writes nothing.
    await admin.update(keyId, { metaData: { plan: 'gold' } });
    for (const answer of await drive(pipelines, key, 1500, 4)) answers.push(answer);
    const account = await hotAccount(table.doc, table.tableName, pk);
    const summary = JSON.stringify({ before, middle, reasons: reasonsOf(answers), ...account });
    console.log('lost answer', summary);
    expect(middle.version, summary).toBe(before.version + 1);
    expect(account.version, summary).toBe(before.version + 1);
    expectExact(account, answers, quota, summary);
  }, 20_000);
  it('a carrying PATCH whose answer is lost and which the SDK sends again under its token, fills landing in between: applied once', async () => {
    const instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
    const pipelines = instances.map((x) => x.pipeline);
    let key = '';
    const lossy = lossyClient(table.endpoint, {
      commands: ['TransactWriteItemsCommand'],
      between: async () => {
        for (const answer of await drive(pipelines, key, 500, 2)) answers.push(answer);
      },
    });
    const answers: Awaited<ReturnType<typeof drive>> = [];
    const plain = pipelineOn(createDynamoClient(table.endpoint), table.tableName).keys;
    const admin = new KeyService(new SessionStore({ client: lossy.doc, tableName: table.tableName, retentionSeconds: 60 }));
    const quota = 80;
    const created = await plain.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    key = created.key;
    const pk = `key#${created.keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    for (const answer of await drive(pipelines, key, 400, 2)) answers.push(answer);
    const before = await hotAccount(table.doc, table.tableName, pk);
    await admin.update(created.keyId, { metaData: { plan: 'gold' } });
    expect(lossy.lost()).toBe(1);
    for (const answer of await drive(pipelines, key, 1500, 4)) answers.push(answer);
    const account = await hotAccount(table.doc, table.tableName, pk);
    const summary = JSON.stringify({ before, reasons: reasonsOf(answers), ...account });
    console.log('re-sent under its token', summary);
    lossy.destroy();
    expect(account.version, summary).toBe(before.version + 1);
    expectExact(account, answers, quota, summary);
  }, 20_000);
});
