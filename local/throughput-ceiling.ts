/**
 * DynamoDB's per-item throughput ceiling, simulated for DynamoDB Local (which never
 * throttles). On DynamoDB one partition key takes about 1,000 write units and 3,000 read
 * units a second, however the table is billed; past that, requests fail with
 * `ProvisionedThroughputExceededException` (reason `…KeyRangeThroughputExceeded`) and the
 * SDK retries them as throttling errors. This gives each item a bucket of W write units and
 * 3 W read units a second, scaled down so that a laptop can drive one key past it.
 */
import { ProvisionedThroughputExceededException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { TABLE } from '../lambdas/core/model/table.ts';
import { itemUnits, type ItemUnits, type UnitKind } from './item-units.ts';
import { TokenBucket } from './token-bucket.ts';

export interface ThroughputCeilingOptions {
  /** W: write units each item takes per second; also its burst (one second's worth). */
  readonly writeUnitsPerSecond: number;
  /** Read units each item takes per second. @default 3 × writeUnitsPerSecond, as on DynamoDB */
  readonly readUnitsPerSecond?: number;
  /** The tables' key attributes, to find the key of a whole item (PutItem). @default gatepass's `pk` */
  readonly keyAttributes?: readonly string[];
  /** Milliseconds, monotonic. @default performance.now */
  readonly clock?: () => number;
}

/** What a ceiling has let through and refused, over every client it is installed on. */
export interface CeilingStats {
  /** Requests (SDK attempts) that touched items and were let through. */
  admitted: number;
  /** Requests (SDK attempts) answered `ProvisionedThroughputExceededException`. */
  throttled: number;
  /** Units the admitted requests took. */
  readonly units: { read: number; write: number };
}

const MIDDLEWARE = 'gatepassThroughputCeiling';
/** Full buckets are forgotten once this many items are remembered (a full bucket is a fresh one). */
const PRUNE_AT = 10_000;

/**
 * Per-item token buckets, shared by every client the ceiling is installed on (all clients
 * of one DynamoDB share its partitions). A request takes its units from every item it
 * touches, or from none: a transaction whose one item is out of units is throttled whole.
 *
 * @example
 * const ceiling = new ThroughputCeiling({ writeUnitsPerSecond: 10 });
 * ceiling.install(client); // every attempt of every command `client` sends now goes through it
 */
export class ThroughputCeiling {
  readonly stats: CeilingStats = { admitted: 0, throttled: 0, units: { read: 0, write: 0 } };
  readonly #rates: Readonly<Record<UnitKind, number>>;
  readonly #keyAttributes: readonly string[];
  readonly #clock: () => number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(options: ThroughputCeilingOptions) {
    const write = options.writeUnitsPerSecond;
    this.#rates = { write, read: options.readUnitsPerSecond ?? 3 * write };
    for (const [kind, rate] of Object.entries(this.#rates)) {
      if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`${kind} units per second must be positive, not ${rate}`);
    }
    this.#keyAttributes = options.keyAttributes ?? [TABLE.partitionKey];
    this.#clock = options.clock ?? (() => performance.now());
  }

  /**
   * Puts the ceiling on `client`'s middleware stack (a document client shares its base
   * client's stack: either will do), at the bottom of it — below the SDK's retry middleware
   * and the authorizer's request counting — so that every attempt takes units and every
   * throttled attempt is seen as DynamoDB's answer, exactly as on DynamoDB. Installing it
   * twice on one client is a no-op.
   */
  install(client: DynamoDBClient | DynamoDBDocumentClient): void {
    const stack = client.middlewareStack as DynamoDBClient['middlewareStack'];
    if (stack.identify().some((entry) => entry.startsWith(`${MIDDLEWARE} `))) return;
    stack.add(
      (next, context) => async (args) => {
        this.charge(String(context.commandName), args.input);
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: MIDDLEWARE },
    );
  }

  /**
   * Takes the units of one request (`commandName` with its marshalled `input`) from the
   * buckets of the items it touches, or throws the exception DynamoDB answers with.
   *
   * @throws ProvisionedThroughputExceededException when one of the items is out of units
   */
  charge(commandName: string, input: unknown): void {
    const charges = itemUnits(commandName, input, this.#keyAttributes);
    if (charges.length === 0) return;
    const now = this.#clock();
    const short = charges.find((charge) => !this.#bucket(charge, now).canTake(charge.units, now));
    if (short !== undefined) {
      this.stats.throttled++;
      throw throttled(short, this.#rates[short.kind]);
    }
    for (const charge of charges) {
      this.#bucket(charge, now).take(charge.units, now);
      this.stats.units[charge.kind] += charge.units;
    }
    this.stats.admitted++;
  }

  /** Forgets every bucket and zeroes the stats: every item starts full again. */
  reset(): void {
    this.#buckets.clear();
    this.stats.admitted = 0;
    this.stats.throttled = 0;
    this.stats.units.read = 0;
    this.stats.units.write = 0;
  }

  #bucket(charge: ItemUnits, now: number): TokenBucket {
    const id = `${charge.kind}\u0000${charge.item}`;
    let bucket = this.#buckets.get(id);
    if (bucket === undefined) {
      if (this.#buckets.size >= PRUNE_AT) this.#prune(now);
      bucket = new TokenBucket(this.#rates[charge.kind], now);
      this.#buckets.set(id, bucket);
    }
    return bucket;
  }

  #prune(now: number): void {
    for (const [id, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(id);
  }
}

/**
 * The exception DynamoDB answers a throttled request with, as the SDK would have
 * deserialized it: the SDK's own class (the SDK's retry strategy classes it as a throttling
 * error by its name, as it does DynamoDB's; DynamoDB's answer carries no `$retryable` trait,
 * so neither does this), HTTP 400, and the throttling reason DynamoDB gives for a hot key.
 */
function throttled(charge: ItemUnits, rate: number): ProvisionedThroughputExceededException {
  const operation = charge.kind === 'read' ? 'Read' : 'Write';
  return new ProvisionedThroughputExceededException({
    message: `Throughput exceeds the current capacity for one or more items (simulated ceiling: ${rate} ${charge.kind} units per second per item)`,
    $metadata: { httpStatusCode: 400, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
    ThrottlingReasons: [
      { reason: `Table${operation}KeyRangeThroughputExceeded`, resource: `arn:aws:dynamodb:local:000000000000:table/${charge.table}` },
    ],
  });
}
