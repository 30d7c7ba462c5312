import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CloudWatchLogsEvent, Context } from 'aws-lambda';
import { ConfigError } from '../core/model/errors.ts';
import { createDocumentClient, FixedDelayRetryStrategy } from '../core/store/dynamo-client.ts';
import { parseDecisionLine, type UsageDecision } from '../core/usage/decision-line.ts';
import { tally } from '../core/usage/tally.ts';
import { USAGE } from '../core/usage/usage-item.ts';
import { UsageWriter, type UsageWriteResult } from '../core/usage/usage-writer.ts';
import { decodeLogsEvent } from './logs-event.ts';

export interface UsageHandlerOptions {
  /** The session table. */
  readonly tableName: string | undefined;
  /** Days usage is kept after its day ends; a string is parsed (the environment). @default 35 */
  readonly retentionDays?: number | string | undefined;
  /** @default a DynamoDB document client with room for transactions (see below) */
  readonly client?: DynamoDBDocumentClient;
  /** @default a Powertools logger, service `gatepass-usage` */
  readonly logger?: Logger;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
}

/** What one delivery counted. */
export interface UsageBatchResult extends UsageWriteResult {
  /** Log events delivered. */
  readonly events: number;
  /** Of those, decision lines counted for a key. */
  readonly decisions: number;
}

export type UsageHandler = (event: CloudWatchLogsEvent, context: Context) => Promise<UsageBatchResult>;

/**
 * The usage aggregator: subscribed to the authorizer's log group, it receives batches of
 * decision lines, adds them up per key and UTC day, and writes each batch once (see
 * `UsageWriter`). A batch that fails is thrown: Lambda delivers it again, and what was
 * already written is recognised and not counted twice. Settings are checked once, at cold
 * start; a bad setting fails every batch with one clear log line.
 */
export function createUsageHandler(options: UsageHandlerOptions): UsageHandler {
  const logger = options.logger ?? new Logger({ serviceName: 'gatepass-usage' });
  let writer: UsageWriter | undefined;
  let misconfigured: string | undefined;
  try {
    writer = new UsageWriter({
      client: options.client ?? aggregatorClient(),
      tableName: required(options.tableName),
      retentionDays: retention(options.retentionDays),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } catch (error) {
    misconfigured = error instanceof Error ? error.message : String(error);
  }

  return middy(async (event: CloudWatchLogsEvent): Promise<UsageBatchResult> => {
    if (writer === undefined) {
      logger.error('usage aggregator misconfigured', { error: misconfigured });
      throw new ConfigError(`usage aggregator misconfigured: ${misconfigured}`);
    }
    const { logEvents, logGroup } = decodeLogsEvent(event);
    const decisions: UsageDecision[] = [];
    for (const logEvent of logEvents) {
      const decision = parseDecisionLine(logEvent.message);
      if (decision) decisions.push(decision);
    }
    const result = await writer.write(
      tally(decisions),
      logEvents.map((e) => e.id),
    );
    const summary = { events: logEvents.length, decisions: decisions.length, ...result };
    logger.info('usage counted', { logGroup, ...summary });
    return summary;
  }).use(injectLambdaContext(logger, { logEvent: false })) as unknown as UsageHandler;
}

/**
 * The aggregator's client: a transaction of up to 100 items may take longer than the
 * authorizer's single-item calls, and nobody is waiting on it, so it gets more time and
 * attempts (a retried transaction that had landed is recognised by its marker).
 */
function aggregatorClient(): DynamoDBDocumentClient {
  return createDocumentClient({
    maxAttempts: 4,
    retryStrategy: new FixedDelayRetryStrategy(4, 200),
    requestHandler: { connectionTimeout: 1000, requestTimeout: 5000, throwOnRequestTimeout: true },
  });
}

function required(tableName: string | undefined): string {
  if (tableName === undefined || tableName.trim() === '') throw new ConfigError('GATEPASS_TABLE_NAME is not set');
  return tableName;
}

function retention(value: number | string | undefined): number {
  if (value === undefined || value === '') return USAGE.defaultRetentionDays;
  const days = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new ConfigError(`GATEPASS_USAGE_RETENTION_DAYS must be a whole number of days from 1 to 3650, got ${JSON.stringify(value)}`);
  }
  return days;
}

/** The Lambda entry point: settings from the environment, checked once per cold start. */
export const handler = createUsageHandler({
  tableName: process.env.GATEPASS_TABLE_NAME,
  retentionDays: process.env.GATEPASS_USAGE_RETENTION_DAYS,
});
