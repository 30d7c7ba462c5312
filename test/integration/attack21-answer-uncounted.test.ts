import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { spreadingClient } from '../support/hot-keys.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/**
 * An admin change of a hot key lands and the reads for its answer are throttled: the change is
 * answered "as written" (key-service.ts `#answer`, the catch → `#publicOf(written)`). `written`
 * is the session item as the change read it, NOT counted: on a spread key its `quotaUsed`
 * includes every lease handed to the counter items, spent or not. Every other answer of the
 * admin API (a GET, the same PATCH unthrottled) subtracts the unspent leases (`#public` →
 * `counted`). So the throttled answer tells the operator the key has used its whole quota when
 * it has used one request of it — and the operator who "gives it back" with a PATCH of
 * `quotaRemaining` raises the quota by what the leases held.
 *
 * Observed (deterministic, 3 of 3 runs): quota 80, the key spread over 8 counter items that
 * lease all 80, one request allowed. PATCH `metaData` (a change that keeps the leases),
 * reads after it throttled: answered `quotaRemaining: 0`; a GET right after: 79.
 *
 * Answered now: with no read to count the leases, the answer is marked `asWritten: 'counts'`
 * (documented with `Session`): the key as the change wrote it, its quota remaining counting
 * the leases as used — a GET answers the key as it is.
 */
describe('an admin change of a spread key answered as written', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('attack21-answer-uncounted');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('marks its answer as written: its quota remaining counts the leases handed out as used', async () => {
    // Instance A: its first count's session item write is throttled twice, so the key spreads over 8 counter items.
    const state = { pk: '', throttles: 2 };
    const a = pipelineOn(spreadingClient(state), table.tableName);
    const { key, keyId } = await a.keys.create({ quotaMax: 80, quotaRenewalRate: 86_400 });
    state.pk = `key#${keyId}`;
    expect(await a.pipeline.authorize(requestWith(key))).toMatchObject({ allow: true });
    const spread = (await a.store.get(state.pk)) as StoredSession;
    expect(spread.shards).toBe(8);
    expect(spread.quotaUsed).toBe(80); // the whole quota leased out; 1 request of it spent

    // The admin: its reads of the key (session item, counter items) are throttled once its write is sent.
    const admin = { written: false, throttled: 0 };
    const clientB = lambdaClient();
    throttleAttempts(clientB, (command, p) => {
      if (/^(TransactWriteItems|UpdateItem|PutItem)Command$/.test(command)) admin.written = true;
      const reads = command === 'GetItemCommand' || command === 'BatchGetItemCommand';
      if (!admin.written || !reads || (p !== '' && !p.startsWith(state.pk))) return undefined;
      admin.throttled++;
      return 'item';
    });
    const b = pipelineOn(clientB, table.tableName);
    const patched = await b.keys.update(keyId, { metaData: { plan: 'gold' } });
    expect(admin.throttled).toBeGreaterThan(0);

    const fresh = await pipelineOn(lambdaClient(), table.tableName).keys.get(keyId);
    expect(fresh.quotaRemaining).toBe(79);
    expect(patched.version).toBe(fresh.version);
    // No read can count the leases: the answer says it is the key as written, its counts as the change read them.
    expect(patched.asWritten).toBe('counts');
    expect(patched.quotaRemaining).toBeLessThanOrEqual(fresh.quotaRemaining);
    expect(fresh.asWritten).toBeUndefined();
  }, 20_000);
});
