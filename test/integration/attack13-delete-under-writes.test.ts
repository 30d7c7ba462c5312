import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { racedAdmin } from '../support/raced-store.ts';

/**
 * Fixed: a DELETE without `If-Match` lands on any version up to 1,000 above the one it read
 * and records that bound as its life's last version (the suggested fix below).
 *
 * Attack: a DELETE without `If-Match` is now guarded by the version it read (so that the
 * version it records at `<pk>#past` is exact) and, on a conflict in the same life, tried
 * again on the item the conflict returned — 8 tries in all, then 409. Before, it was
 * guarded by the life only and always landed. A key whose settings keep moving — other
 * writers landing changes back to back (a `postAuth` hook saving a last-seen time on every
 * request, a script tagging keys, other admins) — can no longer be deleted: each try loses
 * to the next change. That is the key an operator most needs to revoke (abused, leaked).
 *
 * Deterministic (first test): a change lands before each of the delete's tries (the worst
 * case of writers back to back). Observed: 409 after 8 changes; the key still allows.
 * Real concurrency (second test): three admin instances, three loops each PATCHing the
 * key's metaData without If-Match, back to back; after 300 ms a fourth instance DELETEs it
 * without If-Match. Observed on this 2-core machine, three runs: 409 for 2 of 5, 0 of 4 and
 * 2 of 4 keys (after 1.0–2.1 s, 5–11 changes landed meanwhile) — how many depends on how fast
 * the changes land; none when they land slower than the delete's round trip. Held: each
 * delete lands whole or not at all.
 *
 * Severity: medium — an unconditional revoke of a busy key is refused; the operator has no
 * way to force it but to stop the other writers first.
 * Suggested fix: after the conflicts (or at once), delete guarded by the life and by
 * `version ≤ read + K` (K, say, 1,000), and record `read + K` as the life's last version:
 * the next life still starts above every version of this one (versions need not be
 * consecutive across lives), and only K changes landing inside one try could refuse it.
 */
describe('attack13: an unconditional DELETE of a key whose settings keep moving', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack13-delete-writes');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('lands when a change lands before each of its tries', async () => {
    const { env, raced, admin, other } = racedAdmin(table);
    const { key, keyId } = await other.create({ quotaMax: 1000, quotaRenewalRate: 3600 });
    raced.before = Array.from({ length: 12 }, (_, n) => async () => void (await other.update(keyId, { metaData: { n } })));
    const deleted = await admin.delete(keyId).then(
      () => 'deleted',
      (error: Error) => error.name,
    );
    const tries = 12 - raced.before.length;
    raced.before = [];
    const keyRefused = !(await env.pipeline.authorize(requestWith(key))).allow;
    expect({ deleted, keyRefused, tries }).toEqual({ deleted: 'deleted', keyRefused: true, tries: expect.any(Number) });
  });

  // Measured, not asserted (how many 409s depends on the machine): held is only that each delete
  // either lands whole (the key refused) or not at all (the key still allowed).
  it('under real concurrency: each delete lands whole or not at all (the 409s are logged)', async () => {
    const instances = Array.from({ length: 4 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
    const admin = instances[3]!;
    const outcomes: { deleted: string; keyRefused: boolean }[] = [];
    const notes: string[] = [];
    for (let round = 0; round < 4; round++) {
      const { key, keyId } = await admin.keys.create({ quotaMax: 1000, quotaRenewalRate: 3600 });
      let stop = false;
      let landed = 0;
      const writers = Promise.all(
        instances.slice(0, 3).flatMap(({ keys }) =>
          Array.from({ length: 3 }, async () => {
            while (!stop) {
              await keys.update(keyId, { metaData: { n: Math.random() } }).then(
                () => landed++,
                () => undefined,
              );
            }
          }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const t0 = performance.now();
      const from = landed;
      const deleted = await admin.keys.delete(keyId).then(
        () => 'deleted',
        (error: Error) => error.name,
      );
      notes.push(`${deleted} after ${Math.round(performance.now() - t0)} ms, ${landed - from} changes landed meanwhile`);
      stop = true;
      await writers;
      const keyRefused = !(await admin.pipeline.authorize(requestWith(key))).allow;
      outcomes.push({ deleted, keyRefused });
    }
    console.log(notes);
    for (const { deleted, keyRefused } of outcomes) {
      expect(['deleted', 'VersionConflictError']).toContain(deleted);
      expect(keyRefused).toBe(deleted === 'deleted');
    }
  }, 30_000);
});
