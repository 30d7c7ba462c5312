import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttle } from '../support/throttles.ts';

/**
 * Attack30 (fail closed with room, a joined spread that ends before the joiner's limit).
 *
 * One instance, a key counting on its session item (shards 0, quota 100,000). Its session item's UpdateItems are
 * throttled (item) from 0 until SPELL_END (1.9 s). Request O starts at 0: its count is throttled and it spreads the
 * key, trying until its own step limit (~1.75 s, less LANDING_MS): its spread gives up at ~1.6 s (documented: the spell
 * outlasts O's budget). Request J starts at JOIN_AT (1.0 s; O's heating mark is older than 0.5 s, so J sends its own
 * count): throttled, J spreads — and finds O's spread running, joins it (`spreadOnce`), and takes O's give-up
 * (`undefined`, not LATE) as its own answer: `SessionStore.count` rethrows the throttle and J fails closed at ~1.6 s —
 * though J's own step limit is ~2.75 s and the spell ends at 1.9 s, well within J's budget.
 * Expected: J allowed (a spell ending within a request's budget is ridden out; a joiner waits "as long as its own
 * spread would pause, then tries the write once itself").
 */
const TRIALS = Number(process.env.ATK30_TRIALS ?? 3);
const SPELL_END = 1900;
const JOIN_AT = 1000;

describe('attack30: a joiner takes the give-up of a spread whose owner had an earlier limit', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a30-owner-ends');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('the joiner, whose own budget outlasts the spell, is allowed', async () => {
    const rows: string[] = [];
    let failed = 0;
    let controls = 0;
    // Trials alternate with a control: J alone (no owner), the same spell and start — allowed.
    for (let t = 0; t < 2 * TRIALS; t++) {
      const control = t % 2 === 1;
      const who = new AsyncLocalStorage<string>();
      let armedAt = 0;
      let pk = '';
      let throttled = 0;
      let firstFree = 0;
      const client = lambdaClient();
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const command = String(context.commandName);
          const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
          if (armedAt > 0 && command === 'UpdateItemCommand' && p === pk) {
            const at = performance.now() - armedAt;
            if (at < SPELL_END) {
              throttled++;
              throw throttle('item');
            }
            if (firstFree === 0) firstFree = at;
          }
          return next(args);
        },
        { step: 'deserialize', priority: 'low', name: 'attack30' },
      );
      const A = pipelineOn(client, table.tableName);
      const { key, keyId } = await A.keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
      pk = `key#${keyId}`;
      for (let i = 0; i < 3; i++) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
      armedAt = performance.now();
      const ask = (name: string, delay: number) =>
        who.run(name, async () => {
          await new Promise((resolve) => setTimeout(resolve, delay));
          const started = performance.now();
          const answer = await A.pipeline.authorize(requestWith(key)).then(
            (d) => (d.allow ? 'allow' : d.reason),
            (e: Error) => `500 ${e.name}`,
          );
          return { name, answer, at: Math.round(performance.now() - armedAt), started: Math.round(started - armedAt) };
        });
      const none = { name: 'O', answer: 'none', at: 0, started: 0 };
      const [o, j] = await Promise.all([control ? none : ask('O', 0), ask('J', JOIN_AT)]);
      armedAt = 0;
      const shards = (await A.store.get(pk))?.shards ?? 0;
      if (j!.answer !== 'allow') {
        if (control) controls++;
        else failed++;
      }
      rows.push(
        `${control ? 'control ' : ''}O:${o!.answer}@${o!.at} J:${j!.answer}@${j!.at}(started ${j!.started}) throttled=${throttled} firstFree=${Math.round(firstFree)} shards=${shards}`,
      );
    }
    expect({ failed, controls }, JSON.stringify({ failed, controls, of: TRIALS, rows })).toEqual({ failed: 0, controls: 0 });
  }, 120_000);
});
