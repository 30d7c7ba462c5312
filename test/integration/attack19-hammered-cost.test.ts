import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack: the cost of a used-up hot key hammered (docs/ARCHITECTURE.md, "Denials of a
 * hammered key": "an exhausted key costs at most about four DynamoDB requests per instance
 * and second"). A key spread over 8 counter items, its quota (40) spent to the last request;
 * two instances, each serving one request at a time (as a Lambda instance does), hammer it
 * for 3 s. Every DynamoDB request they send is counted by command.
 *
 * Observed (3 of 3 runs): no Allow, no fault, but 15.3-17.7 DynamoDB requests per instance
 * and second (e.g. 42 counter-item UpdateItems + 5 session GetItems in 3 s): the denial
 * memory repeats only after two denials in a row on current counters, so every half second
 * an instance counts twice, each count spending on 3 counter items (and reading the session
 * item when its view is over half a second old) — about 4 times the documented cost. The
 * parent commit costs the same (17.7-19 a second in this test), so the documented number is
 * what is off, not this change; the docs now state about 16. (With 8 workers per instance, as `drive` runs them, the
 * repeated denials starve the event loop and some requests fail closed after 1.5 s: a test
 * artefact, gone once each request yields to I/O.)
 */
describe('attack19: a used-up hot key hammered by two instances', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a19-hammered');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('costs about four DynamoDB requests per instance and second', async () => {
    let sessionPk = '';
    let throttles = 0;
    const sent = [new Map<string, number>(), new Map<string, number>()];
    let counting = false;
    const instance = (n: number) => {
      const client: DynamoDBClient = lambdaClient();
      throttleAttempts(client, (command, p) => {
        if (counting) {
          const name = `${command.replace('Command', '')}${p.includes('#c') ? ' counter' : p === '' ? '' : ' session'}`;
          sent[n]!.set(name, (sent[n]!.get(name) ?? 0) + 1);
        }
        if (n !== 0 || command !== 'UpdateItemCommand' || p !== sessionPk || throttles === 0) return undefined;
        throttles--;
        return 'item';
      });
      return pipelineOn(client, table.tableName);
    };
    const a = instance(0);
    const b = instance(1);
    const { key, keyId } = await a.keys.create({ quotaMax: 40, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    throttles = 2;
    expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    expect(await a.store.get(sessionPk)).toMatchObject({ shards: 8 });
    // Spend the whole quota.
    let allowed = 1;
    const spending = Date.now();
    for (let i = 0; Date.now() - spending < 6000 && allowed < 40; i++)
      if ((await [a, b][i % 2]!.pipeline.authorize(requestWith(key))).allow) allowed++;
    console.log({ allowed, spentInMs: Date.now() - spending });
    expect(allowed).toBe(40);
    counting = true;
    const ms = 3000;
    // One request at a time per instance (as a Lambda instance serves them), yielding to I/O between requests.
    const until = Date.now() + ms;
    const answers: (Decision | Error)[] = [];
    await Promise.all(
      [a, b].flatMap(({ pipeline }) =>
        [0].map(async () => {
          while (Date.now() < until) {
            answers.push(await pipeline.authorize(requestWith(key)).catch((error: Error) => error));
            await new Promise((resolve) => setImmediate(resolve));
          }
        }),
      ),
    );
    counting = false;
    const allows = answers.filter((x) => !(x instanceof Error) && x.allow).length;
    const faults = answers.filter((x) => x instanceof Error).length;
    const errors = [...new Set(answers.filter((x): x is Error => x instanceof Error).map((e) => `${e.name}: ${e.message}`))];
    const perSecond = sent.map((m) => [...m.values()].reduce((s, x) => s + x, 0) / (ms / 1000));
    const summary = JSON.stringify({
      answers: answers.length,
      allows,
      faults,
      errors,
      perSecond,
      sent: sent.map((m) => Object.fromEntries(m)),
    });
    console.log(summary);
    expect(allows, summary).toBe(0);
    expect(faults, summary).toBe(0);
    // "About 16" (the documented cost since this finding): bounded, whatever the client sends (a request costs more than 1).
    for (const rate of perSecond) expect(rate, summary).toBeLessThanOrEqual(24);
  }, 15_000);
});
