import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { APIGatewayRequestAuthorizerEvent, CloudWatchLogsDecodedData, CloudWatchLogsEvent, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { createAuthorizerHandler } from '../../lambdas/authorizer/handler.ts';
import { ConfigSchema } from '../../lambdas/core/model/config.ts';
import { generateKey } from '../../lambdas/core/model/keys.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { tally } from '../../lambdas/core/usage/tally.ts';
import { UsageReader } from '../../lambdas/core/usage/usage-reader.ts';
import { UsageWriter } from '../../lambdas/core/usage/usage-writer.ts';
import { createUsageHandler, type UsageBatchResult } from '../../lambdas/usage/handler.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, scanAll, type TestTable } from '../support/dynamo.ts';
import { captureStdout, logsDelivery } from '../support/emf.ts';

/**
 * Per-key usage, end to end on DynamoDB Local: requests through the real authorizer handler
 * write their metric lines; the lines are delivered to the usage aggregator as CloudWatch
 * Logs delivers them (gzip, base64, in batches); the usage read back is exact — with
 * concurrent requests, concurrent batches, a batch delivered twice, and a batch that failed
 * half way and was delivered again.
 */
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets/42';
const CONTEXT = { functionName: 'gatepass-authorizer', awsRequestId: 'r', getRemainingTimeInMillis: () => 3000 } as unknown as Context;
const DAY_MS = 86_400_000;
const silent = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

function event(authorization?: string): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    headers: authorization === undefined ? {} : { Authorization: authorization },
    requestContext: { apiId: 'api1', stage: 'prod', identity: { sourceIp: '203.0.113.9' } },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

/** A decision line of the authorizer's shape, for the batches made by hand. */
function decisionLine(keyId: string, day: string, reason = 'allowed'): string {
  const outcome = reason === 'allowed' ? 'allow' : 'deny';
  return JSON.stringify({
    _aws: {
      Timestamp: 0,
      CloudWatchMetrics: [
        { Namespace: 'Gatepass', Dimensions: [['service', 'Outcome', 'Reason']], Metrics: [{ Name: 'Decisions', Unit: 'Count' }] },
      ],
    },
    keyId,
    day,
    outcome,
    reason,
    service: 'gatepass-authorizer',
    Outcome: outcome,
    Reason: reason,
    Decisions: 1,
  });
}

const hexId = (n: number) => n.toString(16).padStart(64, '0');

/** The same delivery (same events, same ids) with its events in the reverse order. */
function reversedEvents(delivery: CloudWatchLogsEvent): CloudWatchLogsEvent {
  const data = JSON.parse(gunzipSync(Buffer.from(delivery.awslogs.data, 'base64')).toString('utf8')) as CloudWatchLogsDecodedData;
  const reversed = { ...data, logEvents: [...data.logEvents].reverse() };
  return { awslogs: { data: gzipSync(Buffer.from(JSON.stringify(reversed), 'utf8')).toString('base64') } };
}

describe('per-key usage from the decision log', () => {
  let table: TestTable;
  let keys: KeyService;
  let usage: UsageReader;
  const now = Date.now();
  const today = new Date(now).toISOString().slice(0, 10);
  const yesterday = new Date(now - DAY_MS).toISOString().slice(0, 10);

  const aggregate = (client: DynamoDBDocumentClient = table.doc) =>
    createUsageHandler({ tableName: table.tableName, client, logger: silent, clock: () => now });

  beforeAll(async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    table = await createTestTable('usage');
    keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 60 }));
    usage = new UsageReader({ client: table.doc, tableName: table.tableName, clock: () => now });
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await table.drop();
  });

  it('counts a known sequence of requests, concurrent ones included, exactly per key and UTC day', async () => {
    const steady = await keys.create({ alias: 'steady' });
    const capped = await keys.create({ alias: 'capped', quotaMax: 4 });
    let clock = now - DAY_MS;
    const authorize = createAuthorizerHandler({
      config: ConfigSchema.parse({ tableName: table.tableName }),
      client: table.doc,
      logger: silent,
      clock: () => clock,
    });
    const send = (authorization?: string) => authorize(event(authorization), CONTEXT).catch(() => undefined);

    // Yesterday: steady 3 allowed; capped 10 at once (4 allowed, 6 over quota); two with no key to count.
    const { emf: day1 } = await captureStdout(async () => {
      for (let i = 0; i < 3; i++) await send(steady.key);
      await Promise.all(Array.from({ length: 10 }, () => send(capped.key)));
      await send();
      await send(generateKey());
    });
    // Today: steady 2 allowed, then made inactive and denied twice; capped still over quota, 3 at once.
    clock = now;
    const { emf: day2 } = await captureStdout(async () => {
      await send(steady.key);
      await send(steady.key);
      await keys.update(steady.keyId, { isInactive: true });
      await send(steady.key);
      await send(steady.key);
      await Promise.all(Array.from({ length: 3 }, () => send(capped.key)));
    });
    const lines = [...day1, ...day2].map((line) => JSON.stringify(line));
    expect(lines).toHaveLength(22);

    // Three deliveries, among other log lines, counted at once.
    const noise = [
      '{"level":"INFO","message":"request denied","keyId":"' + steady.keyId + '","reason":"key_inactive"}',
      'START RequestId: r',
    ];
    const batches = [lines.slice(0, 9), lines.slice(9, 17), [...lines.slice(17), ...noise]];
    const results = await Promise.all(batches.map((batch, i) => aggregate()(logsDelivery(batch, i * 100), CONTEXT)));
    // Every line that names a key (all but the missing credential and the unknown key) is counted.
    expect(results.map((r) => r.decisions)).toEqual([9, 6, 5]);

    const steadyUsage = await usage.read(steady.keyId, 3);
    expect(steadyUsage.days).toEqual([
      { day: today, allowed: 2, denied: { key_inactive: 2 } },
      { day: yesterday, allowed: 3, denied: {} },
      { day: new Date(now - 2 * DAY_MS).toISOString().slice(0, 10), allowed: 0, denied: {} },
    ]);
    expect(steadyUsage.totals).toEqual({ allowed: 5, denied: { key_inactive: 2 } });
    const cappedUsage = await usage.read(capped.keyId, 2);
    expect(cappedUsage.days).toEqual([
      { day: today, allowed: 0, denied: { quota_exceeded: 3 } },
      { day: yesterday, allowed: 4, denied: { quota_exceeded: 6 } },
    ]);

    // The same deliveries again (Lambda retrying them): nothing is counted twice.
    const again = await Promise.all(batches.map((batch, i) => aggregate()(logsDelivery(batch, i * 100), CONTEXT)));
    expect(again.map((r) => [r.counted, r.alreadyCounted])).toEqual([
      [0, 1],
      [0, 1],
      [0, 1],
    ]);
    expect(await usage.read(steady.keyId, 3)).toEqual(steadyUsage);
    expect(await usage.read(capped.keyId, 2)).toEqual(cappedUsage);
  });

  it('keeps usage items (no `kind`: never in the key listings) and batch markers for 35 days after their day', async () => {
    const keyId = hexId(1);
    await aggregate()(logsDelivery([decisionLine(keyId, today)], 5000), CONTEXT);

    const item = (
      await table.doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: `usage#${keyId}#${today}` }, ConsistentRead: true }))
    ).Item;
    const endOfToday = Date.parse(`${today}T00:00:00Z`) / 1000 + 86_400;
    expect(item).toEqual({ pk: `usage#${keyId}#${today}`, keyId, day: today, allowed: 1, ttl: endOfToday + 35 * 86_400 });
    const markers = (await scanAll(table.tableName, table.client)).filter((i) => String(i.pk).startsWith('usagebatch#'));
    expect(markers.length).toBeGreaterThan(0);
    for (const marker of markers) expect(marker).toEqual({ pk: marker.pk, ttl: endOfToday + 35 * 86_400 });
  });

  it('writes a batch of more than 99 keys in several transactions, and after a failure half way counts the rest once', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => decisionLine(hexId(1000 + i), today, i % 3 === 0 ? 'rate_limited' : 'allowed'));
    const delivery = logsDelivery(lines, 10_000);
    // A client whose second transaction fails: the first chunk is written, the batch fails.
    const flaky = DynamoDBDocumentClient.from(createDynamoClient(table.endpoint));
    let transactions = 0;
    flaky.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && ++transactions === 2) throw new Error('connection reset');
        return next(args);
      },
      { step: 'initialize', name: 'failSecondTransaction' },
    );

    await expect(aggregate(flaky)(delivery, CONTEXT)).rejects.toThrow('connection reset');
    const retried: UsageBatchResult = await aggregate()(delivery, CONTEXT);

    expect(retried).toMatchObject({ events: 150, decisions: 150, items: 150, chunks: 2, counted: 1, alreadyCounted: 1 });
    for (let i = 0; i < 150; i += 37) {
      const { days } = await usage.read(hexId(1000 + i), 1);
      expect(days[0]).toEqual(
        i % 3 === 0 ? { day: today, allowed: 0, denied: { rate_limited: 1 } } : { day: today, allowed: 1, denied: {} },
      );
    }
  });

  it('recognises a delivery seen again with its events in another order, and counts it once', async () => {
    const keyId = hexId(7);
    // 37 requests of one key and one each of 100 others: two chunks.
    const lines = [
      ...Array.from({ length: 37 }, () => decisionLine(keyId, today)),
      ...Array.from({ length: 100 }, (_, i) => decisionLine(hexId(5000 + i), today)),
    ];
    const delivery = logsDelivery(lines, 20_000);

    const first = await aggregate()(delivery, CONTEXT);
    const again = await aggregate()(reversedEvents(delivery), CONTEXT);

    expect(first).toMatchObject({ chunks: 2, counted: 2, alreadyCounted: 0 });
    expect(again).toMatchObject({ events: 137, chunks: 2, counted: 0, alreadyCounted: 2 });
    expect((await usage.read(keyId, 1)).days[0]).toEqual({ day: today, allowed: 37, denied: {} });
    expect((await usage.read(hexId(5099), 1)).days[0]).toEqual({ day: today, allowed: 1, denied: {} });
  });

  it('counts every one of many batches delivered at once for the same key and day', async () => {
    const keyId = hexId(42);
    const writer = new UsageWriter({ client: table.doc, tableName: table.tableName });

    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        writer.write(tally([{ keyId, day: today, outcome: 'allow', reason: 'allowed' }]), [`batch-${i}`]),
      ),
    );

    expect((await usage.read(keyId, 1)).days[0]).toEqual({ day: today, allowed: 20, denied: {} });
  });

  it("ignores CloudWatch Logs' control message and fails on a payload that is not a delivery", async () => {
    const control = await aggregate()(
      logsDelivery(['CWL CONTROL MESSAGE: Checking health of destination Lambda.'], 0, 'CONTROL_MESSAGE'),
      CONTEXT,
    );

    expect(control).toMatchObject({ events: 0, decisions: 0, chunks: 0 });
    await expect(aggregate()({ awslogs: { data: 'bm90IGd6aXA=' } }, CONTEXT)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('fails every batch, naming the setting, when the table name is missing', async () => {
    const misconfigured = createUsageHandler({ tableName: undefined, client: table.doc, logger: silent });

    await expect(misconfigured(logsDelivery([decisionLine(hexId(7), today)]), CONTEXT)).rejects.toThrow('GATEPASS_TABLE_NAME is not set');
  });
});
