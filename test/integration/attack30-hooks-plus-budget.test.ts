import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { counting, throttleSpell } from '../support/busy-spells.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack30 (a request past the Lambda's 3 s, each part within its own bound): the busy budget starts when the decision
 * starts (`new BusyBudget()` in `#decideAndCount`), after the `pre`, `auth` and `postAuth` hooks, each of which may
 * take up to `hookTimeoutMs` (1 s by default). "No step starts after 1.75 s, so a decision still busy ends by then …
 * within the Lambda's 3 s" holds for the decision alone: a `pre` and a `postAuth` hook each well within their 1 s
 * (0.9 s: a call to an outside service) and a busy spell on a hot key's counter items make a request that fails
 * closed at ~3.6 s — past the Lambda's timeout, so the answer is API Gateway's, not gatepass's.
 * Expected: a request answers within the Lambda's 3 s (the budget measured from the request's start, or the hooks'
 * time taken from it).
 */
describe('attack30: hook time plus the busy budget', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a30-hooks-budget');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('a request with slow-but-in-time hooks on a busy hot key answers within 3 s', async () => {
    const client = lambdaClient();
    const spell = throttleSpell(client, 10_000, (command, p, pk) => (counting(command, p, pk) ? 'table' : undefined));
    const A = pipelineOn(client, table.tableName);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const slow: GatepassPlugin = {
      name: 'reputation-check',
      async pre() {
        await sleep(900);
      },
      async postAuth() {
        await sleep(900);
      },
    };
    const hooked = A.pipelineWith([slow]);
    const { key, keyId } = await A.keys.create({ quotaMax: 100_000, quotaRenewalRate: 86_400 });
    spell.pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, spell.pk, 4);
    for (let i = 0; i < 5; i++) expect(await A.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    spell.arm();
    const answer = await hooked.authorize(requestWith(key)).then(
      (d) => (d.allow ? 'allow' : d.reason),
      (e: Error) => `500 ${e.name}`,
    );
    const ms = spell.disarm();
    expect({ within: ms < 3000 }, JSON.stringify({ answer, ms, throttled: spell.throttled })).toEqual({ within: true });
  }, 30_000);
});
