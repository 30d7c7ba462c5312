import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTable, lambdaClient, type TestTable } from '../support/dynamo.ts';
import { pipelineOn, requestWith } from '../support/pipeline.ts';
import { throttleAttempts } from '../support/throttles.ts';

/** The authorizer Lambda's default timeout (lib/gatepass-authorizer.ts). */
const LAMBDA_TIMEOUT_MS = 3000;

/**
 * Attack: a key spread by a throttle whose fills are then throttled for as long as the request
 * lasts (its session item is the hot one). Every step of the count meets a busy write, so the
 * count returns `busy` and the pipeline decides and counts again — up to its 8 attempts, each
 * of 8 steps with growing pauses. Does the request still end (an answer, or its own fault)
 * within the Lambda's 3 s, or is it cut off by the timeout?
 * Observed (4 runs): ContentionError after 3.4-3.8 s, 64 throttled fill attempts (8 × 8) —
 * past the 3 s timeout, so the Lambda would be killed mid-request instead of failing closed
 * itself (both a 500; the pauses and the retries outlast the budget the stack checks for).
 */
describe('a request whose every count step meets a throttled fill', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await createTestTable('a15-busy-loop');
  });
  afterAll(async () => {
    await table.drop();
  });

  it('ends within the Lambda timeout', async () => {
    const client = lambdaClient();
    let sessionPk = '';
    let sessionThrottles = 0;
    let throttleFills = false;
    let fillAttempts = 0;
    throttleAttempts(client, (command, pk) => {
      if (command === 'UpdateItemCommand' && pk === sessionPk && sessionThrottles > 0) {
        sessionThrottles -= 1;
        return 'item';
      }
      if (command === 'TransactWriteItemsCommand' && throttleFills) {
        fillAttempts++;
        return 'item';
      }
      return undefined;
    });
    const { pipeline, keys } = pipelineOn(client, table.tableName);
    const { key, keyId } = await keys.create({ quotaMax: 1000, quotaRenewalRate: 86_400 });
    sessionPk = `key#${keyId}`;
    sessionThrottles = 2;
    throttleFills = true;
    const started = Date.now();
    const answer = await pipeline.authorize(requestWith(key)).catch((error: Error) => error.name);
    const elapsedMs = Date.now() - started;
    throttleFills = false;
    console.log({ answer, elapsedMs, fillAttempts });
    expect(elapsedMs).toBeLessThan(LAMBDA_TIMEOUT_MS);
  }, 15_000);
});
