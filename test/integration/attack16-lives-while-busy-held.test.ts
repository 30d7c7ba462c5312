import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { hotAccount } from '../support/hot-account.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleCountingWrites } from '../support/throttles.ts';

/**
 * Attack (held): as attack16-change-while-busy-held — three instances (4 workers each) on a
 * key spread over 8 counter items, half of every counting write to a counter item meeting a
 * table throttle, so many requests loop on the session item they read before — with the
 * changes that start a new count or a new key: a rotation with no grace (the old key must be
 * refused from the moment it answered), a reset of a used-up quota (no more than the quota
 * after it, the count exact), and a delete then import of the same raw key with a smaller
 * quota (the new life counts only its own requests, none over its quota).
 * Observed (4 runs each): rotation: 0 Allows with the old key among 33-46 started after it;
 * reset (quota 40): 40 of 40 allowed after it, the count exact (used = allows + unspent);
 * re-import (quota 30): 30 Allows ended after the delete, all counted on the new life (its
 * count exact: used 30, none unspent) — 4-6 of them started before the delete, decided again on
 * the new life's item once their count found the old one gone (concurrent with the change: sound).
 */
describe('attack16: a rotation, a reset or a re-import of a hot key while its requests loop on busy counter items', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a16-lives-busy');
  });
  afterAll(async () => {
    await table.drop();
  });

  function instance() {
    const client = lambdaClient();
    throttleCountingWrites(client, 0.5);
    return pipelineOn(client, table.tableName).pipeline;
  }

  interface Answer {
    readonly key: string;
    readonly started: number;
    readonly ended: number;
    readonly answer: Decision | Error;
  }
  const allowed = (a: Answer) => !(a.answer instanceof Error) && a.answer.allow;

  /** Hammers with `keys()` (round robin) from 3 instances × 4 workers until `stop()` (at most 9 s). */
  async function hammer(keys: () => readonly string[], stop: () => boolean, answers: Answer[]): Promise<void> {
    const pipelines = [instance(), instance(), instance()];
    const deadline = performance.now() + 9000;
    await Promise.all(
      pipelines.flatMap((pipeline, n) =>
        Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; !stop() && performance.now() < deadline; i++) {
            const list = keys();
            const key = list[(n + w + i) % list.length]!;
            const started = performance.now();
            const answer = await pipeline.authorize(requestWith(key)).catch((error: Error) => error);
            answers.push({ key, started, ended: performance.now(), answer });
          }
        }),
      ),
    );
  }

  const admin = () => pipelineOn(createDynamoClient(table.endpoint), table.tableName).keys;

  it('a rotation with no grace: no Allow with the old key started after it', async () => {
    const keys = admin();
    const { key, keyId } = await keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
    await spreadKey(table.doc, table.tableName, `key#${keyId}`, 8);
    let list = [key];
    let at = Number.POSITIVE_INFINITY;
    const answers: Answer[] = [];
    const rotating = (async () => {
      while (answers.filter(allowed).length < 30) await new Promise((resolve) => setTimeout(resolve, 10));
      const rotated = await keys.rotate(keyId, { graceSeconds: 0 });
      at = performance.now();
      list = [key, rotated.key];
    })();
    await hammer(
      () => list,
      () => performance.now() > at + 800 && answers.filter((a) => a.key === key && a.started > at).length >= 30,
      answers,
    );
    await rotating;
    const oldAfter = answers.filter((a) => a.key === key && a.started > at);
    const late = oldAfter.filter(allowed);
    const byNew = answers.filter((a) => a.key !== key && allowed(a)).length;
    const summary = JSON.stringify({ answers: answers.length, oldAfter: oldAfter.length, late: late.length, byNew });
    console.log('rotation', summary);
    expect(oldAfter.length, summary).toBeGreaterThanOrEqual(30);
    expect(late.length, summary).toBe(0);
    expect(byNew, summary).toBeGreaterThan(0);
  }, 15_000);

  it('a reset of a used-up quota: no more than the quota after it, the count exact', async () => {
    const keys = admin();
    const quota = 40;
    const { key, keyId } = await keys.create({ quotaMax: quota, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    let sent = Number.POSITIVE_INFINITY;
    let at = Number.POSITIVE_INFINITY;
    const answers: Answer[] = [];
    const resetting = (async () => {
      // Used up, and hammered: then the reset.
      while (answers.filter(allowed).length < quota || answers.length < 200) await new Promise((resolve) => setTimeout(resolve, 10));
      sent = performance.now();
      await keys.resetQuota(keyId);
      at = performance.now();
    })();
    await hammer(
      () => [key],
      () => performance.now() > at + 1500,
      answers,
    );
    await resetting;
    // The reset lands at some moment between its send and its answer: Allows ended before the send are the old
    // window's, every other is the new one's (those ending before the answer too).
    const before = answers.filter((a) => allowed(a) && a.ended <= sent).length;
    const after = answers.filter(allowed).length - before;
    const account = await hotAccount(table.doc, table.tableName, pk);
    const summary = JSON.stringify({
      answers: answers.length,
      before,
      after,
      endedWhileResetting: answers.filter((a) => allowed(a) && a.ended > sent && a.ended <= at).length,
      account,
    });
    console.log('reset', summary);
    expect(before, summary).toBe(quota);
    expect(after, summary).toBeLessThanOrEqual(quota);
    expect(account.used - account.unspent, summary).toBe(after);
    expect(account.strays, summary).toEqual([]);
  }, 15_000);

  it('a delete and an import of the same key: every later Allow counted on the new life, none over its quota', async () => {
    const keys = admin();
    const { key, keyId } = await keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 8);
    const quota = 30;
    let deletedAt = Number.POSITIVE_INFINITY;
    let at = Number.POSITIVE_INFINITY;
    const answers: Answer[] = [];
    const changing = (async () => {
      while (answers.filter(allowed).length < 30) await new Promise((resolve) => setTimeout(resolve, 10));
      await keys.delete(keyId);
      deletedAt = performance.now();
      await keys.create({ key, quotaMax: quota, quotaRenewalRate: 86_400 });
      at = performance.now();
    })();
    await hammer(
      () => [key],
      () => performance.now() > at + 1500,
      answers,
    );
    await changing;
    const onNewLife = answers.filter((a) => allowed(a) && a.ended > deletedAt);
    const startedBefore = onNewLife.filter((a) => a.started < deletedAt).length;
    const account = await hotAccount(table.doc, table.tableName, pk);
    const summary = JSON.stringify({ answers: answers.length, newLife: onNewLife.length, startedBefore, account });
    console.log('re-import', summary);
    // The new life counts exactly its quota; an Allow that ended after the delete's answer but started before it may be
    // the old life's (its count landed before the delete, its answer after), so those are the only slack in the tally.
    expect(account.used - account.unspent, summary).toBe(quota);
    expect(onNewLife.length, summary).toBeGreaterThanOrEqual(quota);
    expect(onNewLife.length, summary).toBeLessThanOrEqual(quota + startedBefore);
    expect(answers.filter((a) => allowed(a) && a.started > at).length, summary).toBeLessThanOrEqual(quota);
    expect(account.strays, summary).toEqual([]);
  }, 15_000);
});
