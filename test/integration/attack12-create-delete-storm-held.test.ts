import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn } from '../support/pipeline.ts';

/**
 * Attack (held): imports of one raw key and deletes of it without `If-Match`, all at once
 * from several admin instances (each its own client) for 3 s: creates race each other on
 * the session item and deletes on `<pk>#past` (TransactionConflict, PastLifeMoved,
 * AlreadyExists), deletes race creates and each other (NotFound, conflicts retried on the
 * conflict item). A create must answer 201 or 409 (AlreadyExists), a delete 204 or 404:
 * never a 500 (ContentionError, a cancelled transaction). Every life created gets a version
 * no other life had, each above the last deleted.
 * Observed: 13 lives in 3 s (a loaded machine), 0 faults, versions 1 to 13, one per life, in
 * creation order. Found under a heavier load: 2 creates of 13 gave up (ContentionError, 500)
 * after 4 tries each reading the record again; a create now tries again on the record the
 * failed check returned, up to 8 writes.
 */
describe('attack12 (held): creates and deletes of one raw key, all at once', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('attack12-storm');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('answers every create and delete without a fault, each life at a version of its own', async () => {
    const admins = Array.from(
      { length: 4 },
      () =>
        new KeyService(
          new SessionStore({
            client: pipelineOn(createDynamoClient(table.endpoint), table.tableName).doc,
            tableName: table.tableName,
            retentionSeconds: 0,
          }),
          () => Math.floor(Date.now() / 1000),
        ),
    );
    const key = 'attack12-storm-raw-key-000000001';
    let keyId = '';
    const versions: number[] = [];
    const faults: string[] = [];
    const until = Date.now() + 3000;
    // 3 s, and on until 3 lives were made (a loaded machine makes few: 1 to 13 seen in 3 s), 15 s at most.
    const stop = Date.now() + 15_000;
    const going = () => Date.now() < stop && (Date.now() < until || versions.length < 3);
    const creator = async (admin: KeyService) => {
      while (going()) {
        try {
          const created = await admin.create({ key, quotaMax: 5 });
          keyId = created.keyId;
          versions.push(created.session.version);
        } catch (error) {
          if ((error as Error).name !== 'AlreadyExistsError') faults.push(`create: ${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    };
    const deleter = async (admin: KeyService) => {
      while (going()) {
        if (keyId === '') {
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        try {
          await admin.delete(keyId);
        } catch (error) {
          if ((error as Error).name !== 'NotFoundError') faults.push(`delete: ${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all([...admins.map(creator), ...admins.map(deleter)]);
    expect(faults).toEqual([]);
    expect(versions.length).toBeGreaterThanOrEqual(3);
    expect(new Set(versions).size).toBe(versions.length);
  });
});
