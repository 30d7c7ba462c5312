/**
 * What DynamoDB would bill a client for: read and write request units, attempt by attempt.
 * Also what the bench prices them at.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { itemUnits } from '../../local/item-units.ts';

/**
 * On-demand prices, us-east-1, Standard table class: $0.625 per million write request units
 * and $0.125 per million read request units (aws.amazon.com/dynamodb/pricing/on-demand/,
 * the prices in force since AWS halved on-demand prices in November 2024).
 */
export const ON_DEMAND_PRICE = {
  writePerMillionUnits: 0.625,
  readPerMillionUnits: 0.125,
  source: 'DynamoDB on-demand pricing, us-east-1, Standard table class (aws.amazon.com/dynamodb/pricing/on-demand/)',
} as const;

/** Dollars per million of something that costs `units` a time. */
export function dollarsPerMillion(units: { read: number; write: number }): number {
  return units.write * ON_DEMAND_PRICE.writePerMillionUnits + units.read * ON_DEMAND_PRICE.readPerMillionUnits;
}

export interface CapacityMeter {
  /** Units billed so far. */
  readonly units: { read: number; write: number };
  /** Attempts whose units are estimated (failed conditions: DynamoDB Local reports nothing for them). */
  estimated: number;
  reset(): void;
}

const READS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand', 'QueryCommand', 'ScanCommand']);
const RETURNS_CAPACITY = new Set([
  ...READS,
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);
/** DynamoDB bills a write whose condition failed (or a cancelled transaction) though it changes nothing. */
const BILLED_FAILURES = new Set(['ConditionalCheckFailedException', 'TransactionCanceledException']);

type CapacityList = { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> | undefined;

/**
 * Meters every attempt `client` sends (below the SDK's retries: DynamoDB bills each attempt
 * it serves, and none it throttles). Asks for `ReturnConsumedCapacity: TOTAL` and adds up
 * what DynamoDB Local reports, which follows item size (1 write unit per KB, 1 read unit per
 * 4 KB strongly consistent). A write that fails its condition reports nothing: it is counted
 * at the size-blind rate (1 write unit per item, 2 in a transaction), a floor.
 */
export function meterCapacity(client: DynamoDBClient | DynamoDBDocumentClient): CapacityMeter {
  const meter: CapacityMeter = {
    units: { read: 0, write: 0 },
    estimated: 0,
    reset() {
      meter.units.read = 0;
      meter.units.write = 0;
      meter.estimated = 0;
    },
  };
  const stack = client.middlewareStack as DynamoDBClient['middlewareStack'];
  stack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      const input = args.input as { ReturnConsumedCapacity?: string };
      const wanted = RETURNS_CAPACITY.has(name) && input.ReturnConsumedCapacity === undefined;
      return next(wanted ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } } : args);
    },
    { step: 'initialize', name: 'benchAskForCapacity' },
  );
  stack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      const kind = READS.has(name) ? 'read' : 'write';
      try {
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: CapacityList }).ConsumedCapacity;
        for (const entry of [consumed ?? []].flat()) meter.units[kind] += entry.CapacityUnits ?? 0;
        return result;
      } catch (error) {
        if (BILLED_FAILURES.has((error as { name?: string }).name ?? '')) {
          for (const charge of itemUnits(name, args.input, ['pk'])) meter.units[charge.kind] += charge.units;
          meter.estimated++;
        }
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchMeterCapacity' },
  );
  return meter;
}
