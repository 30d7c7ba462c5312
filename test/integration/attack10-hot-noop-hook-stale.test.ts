import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { hotAccount } from '../support/hot-account.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';

/**
 * Attack that held: a `postAuth` hook whose `updateSession` changes nothing is now answered
 * from a strongly consistent read (no write, the version stands), and the request goes on as
 * if its hook had written. On a hot key (4 counter items) hammered by three instances running
 * that hook, an admin change that keeps the leases (deactivation, then a metaData change the
 * hook does not name, then the undo) lands between a hook's check and its request's spend:
 * is a request decided on the settings before the change allowed after the change answered,
 * and does the account stay exact (session count = Allows + unspent leases)?
 * Observed: none of the 105 requests run between the deactivation's answer and the
 * reactivation was allowed (31 before, 19 after); the account exact (384 = 53 Allows + 331
 * unspent), no stray leases. (Slow under this hook: about 30 requests/s from 12 workers.)
 */
describe('attack10: no-op hook writes on a hot key while settings change', () => {
  let table: TestTable;
  let instances: ReturnType<typeof pipelineOn>[];

  beforeAll(async () => {
    table = await createTestTable('attack10-hot-noop-stale');
    instances = Array.from({ length: 3 }, () => pipelineOn(createDynamoClient(table.endpoint), table.tableName));
  });
  afterAll(async () => {
    await table.drop();
  });

  const ensureGold: GatepassPlugin = {
    name: 'ensure-gold',
    async postAuth(ctx) {
      await ctx.updateSession({ metaData: { ...ctx.session.metaData, plan: 'gold' } });
    },
  };

  interface Answer {
    readonly started: number;
    readonly answer: Decision | Error;
    readonly ms: number;
  }

  async function hammer(key: string, ms: number, answers: Answer[]): Promise<void> {
    const until = Date.now() + ms;
    const pipelines = instances.map((x) => x.pipelineWith([ensureGold]));
    await Promise.all(
      pipelines.flatMap((p) =>
        Array.from({ length: 4 }, async () => {
          while (Date.now() < until) {
            const started = Date.now();
            const answer = await p.authorize(requestWith(key)).catch((error: Error) => error);
            answers.push({ started, answer, ms: Date.now() - started });
          }
        }),
      ),
    );
  }

  const isAllow = (a: Answer) => !(a.answer instanceof Error) && a.answer.allow;
  const reasons = (answers: readonly Answer[]) => {
    const out: Record<string, number> = {};
    for (const { answer: a } of answers) {
      const r = a instanceof Error ? `${a.name}: ${a.message.slice(0, 60)}` : a.allow ? 'allow' : a.reason;
      out[r] = (out[r] ?? 0) + 1;
    }
    return out;
  };

  it('allows nothing started after a deactivation answered, and keeps the account exact', async () => {
    const admin = instances[0]!.keys;
    const { key, keyId } = await admin.create({ quotaMax: 1000, quotaRenewalRate: 86_400, metaData: { plan: 'gold' } });
    const pk = `key#${keyId}`;
    await spreadKey(table.doc, table.tableName, pk, 4);
    const answers: Answer[] = [];
    let deactivated = Number.POSITIVE_INFINITY;
    let reactivated = Number.POSITIVE_INFINITY;
    // Warm up every instance (its hook code, zod, the key's settings).
    const warm = await Promise.all(instances.map((x) => x.pipelineWith([ensureGold]).authorize(requestWith(key))));
    const load = hammer(key, 5000, answers);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await admin.update(keyId, { isInactive: true });
    deactivated = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 700));
    await admin.update(keyId, { metaData: { plan: 'gold', note: 'x' } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    reactivated = Date.now(); // sent: a request started from now on may be allowed
    await admin.update(keyId, { isInactive: false });
    await load;
    const account = await hotAccount(table.doc, table.tableName, pk);
    const allowed = answers.filter(isAllow).length + warm.filter((d) => d.allow).length;
    // Inactive for its whole run: started after the deactivation answered, answered before the reactivation was sent
    // (one that started before the reactivation was sent but was decided after it landed may rightly be allowed).
    const inactiveThroughout = (a: Answer) => a.started > deactivated && a.started + a.ms < reactivated;
    const lateAllows = answers.filter((a) => isAllow(a) && inactiveThroughout(a)).length;
    const summary = JSON.stringify({
      before: reasons(answers.filter((a) => a.started <= deactivated)),
      during: reasons(answers.filter((a) => a.started > deactivated && a.started < reactivated)),
      after: reasons(answers.filter((a) => a.started >= reactivated)),
      allowed,
      slowest: Math.max(...answers.map((a) => a.ms)),
      account,
    });
    console.log(summary);
    expect(lateAllows, summary).toBe(0);
    expect(account.used, summary).toBe(allowed + account.unspent);
    expect(account.strays, summary).toEqual([]);
    expect(allowed, summary).toBeGreaterThan(0);
  }, 15_000);
});
