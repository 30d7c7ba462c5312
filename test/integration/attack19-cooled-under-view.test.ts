import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { keyLeftOnOneItem } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * Attack: a change that deletes a hot key's counter items — a cooling (unspent leases given
 * back), a quota reset, a raise of the quota — landing between a count's view of the session
 * item and its next tries. The change's rule (docs/ARCHITECTURE.md, "Where it under-grants"):
 * a denial needs 3 distinct counter items seen without room *after* the view, and "a counter
 * item missing ... makes a remembered view too stale to deny on: it is read". But on a view
 * read in this request (here: the item B's failed fill returned), a counter item found
 * missing counts as one seen without room: three missing items — the very trace of the change
 * — are "evidence", and the request is denied on the view from before the change.
 *
 * Setup: quota 80 leased to 8 counter items; #c0-#c6 spent, #c7 holds 10 (throttled on
 * instance B). B's count sees 3 items empty, its fill fails (no room) and returns the session
 * item (80 of 80): the change lands right after that answer (injected in B's client).
 * Observed (3 of 3 runs each): B denied `quota_exceeded` after its 3 tries all found counter
 * items missing (log: TransactWriteItems, change, UpdateItem ×3, denial), with the session
 * item at 70 of 80 (cooling), 0 of 80 (reset) or 80 of 200 (raise). Expected: a missing item
 * makes this view stale as it does a remembered one — read again, and B allowed. The parent
 * commit denies the same (there on evidence from before the view).
 */
describe('attack19: a hot key cooled between a count view of its session item and its tries', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a19-cooled-view');
  });
  afterAll(async () => {
    await table.drop();
  });

  it.each(['cooling', 'reset', 'raise'] as const)(
    'is not denied on the view a %s changed before its tries',
    async (change) => {
      const { key, pk, held, get, change: makeChange } = await keyLeftOnOneItem(table);

      // Instance B: #c7 is hot there (throttled). Once its count has a view of the session item (a read, or the item a
      // failed fill returns), the key cools (as another instance's count does after a minute without fills: every
      // counter item deleted, #c7's unspent lease given back to the session item) — before B's next tries.
      const clientB = lambdaClient();
      const state = { counting: false, cooled: false, changed: 0, log: [] as string[] };
      throttleAttempts(clientB, (command, p) => {
        if (command === 'UpdateItemCommand' && p.startsWith(`${pk}#c`)) state.counting = true;
        return command === 'UpdateItemCommand' && p === `${pk}#c7` ? 'item' : undefined;
      });
      clientB.middlewareStack.add(
        (next, context) => async (args) => {
          const command = String(context.commandName);
          const p = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
          state.log.push(`${command} ${p.replace(pk, '')}`);
          const view = state.counting && ((command === 'GetItemCommand' && p === pk) || command === 'TransactWriteItemsCommand');
          try {
            return await next(args);
          } finally {
            if (view && !state.cooled) {
              state.cooled = true;
              state.changed = await makeChange(change);
              state.log.push(`changed: ${change}`);
            }
          }
        },
        { step: 'deserialize', priority: 'low', name: 'coolAfterView' },
      );
      const b = pipelineOn(clientB, table.tableName);
      // The injected change runs inside B's request and uses its 1.5 s busy budget: on a starved CPU B may fail closed
      // (ContentionError) after it. What this attack is about is a denial on the view from before the change.
      const decision = await b.pipeline.authorize(requestWith(key)).catch((error: Error) => error);
      const after = (await get(pk)) as StoredSession;
      const summary = JSON.stringify({
        held,
        decision: decision instanceof Error ? decision.name : decision.allow ? 'allow' : (decision as { reason?: string }).reason,
        cooled: state.cooled,
        changed: state.changed,
        after: { quotaUsed: after.quotaUsed, shards: after.shards ?? 0 },
        log: state.log,
      });
      console.log(summary);
      expect(state.cooled, summary).toBe(true);
      expect(state.changed, summary).toBeLessThan(change === 'raise' ? 200 : 80);
      if (decision instanceof Error) expect(decision.name, summary).toBe('ContentionError');
      else expect(decision.allow, summary).toBe(true);
    },
    15_000,
  );
});
