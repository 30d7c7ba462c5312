import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The SDK's retry token (RetryToken of @smithy/types), structurally. */
interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

/**
 * How long one DynamoDB call may take, at most. API Gateway is waiting, and the authorizer
 * Lambda has 3 s by default: a slow DynamoDB must fail the request closed (500) well before
 * the Lambda times out, never hold it.
 *
 * - `requestTimeoutMs` bounds one attempt from the moment it is sent: connecting (and
 *   waiting for a pooled socket), TLS, sending and the whole answer. The SDK's HTTP handler
 *   only warns when it passes unless `throwOnRequestTimeout` is set, which is set.
 * - `connectionTimeoutMs` gives up sooner on a connection that cannot be made.
 * - `maxAttempts` attempts, `retryDelayMs` apart (a fixed delay: the SDK's standard strategy
 *   waits up to 1 s after a throttling error).
 *
 * Worst case per call: {@link dynamoCallBudgetMs} = 2 × 400 + 50 = 850 ms. DynamoDB answers
 * in single-digit milliseconds, so 400 ms is far above a healthy call.
 */
export const DYNAMODB_TIMEOUTS = {
  connectionTimeoutMs: 200,
  requestTimeoutMs: 400,
  maxAttempts: 2,
  retryDelayMs: 50,
} as const;

/** The longest one DynamoDB call can take with {@link DYNAMODB_TIMEOUTS}, retries included. */
export function dynamoCallBudgetMs(timeouts: typeof DYNAMODB_TIMEOUTS = DYNAMODB_TIMEOUTS): number {
  return timeouts.maxAttempts * timeouts.requestTimeoutMs + (timeouts.maxAttempts - 1) * timeouts.retryDelayMs;
}

/**
 * The DynamoDB document client the handlers use by default: created once per cold start
 * (module scope in the handlers), with the bounded timeouts of {@link DYNAMODB_TIMEOUTS}.
 * The endpoint comes from the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`; `overrides` (tests, the
 * local stack) are laid over these settings.
 *
 * @example
 * const client = createDocumentClient(); // region, credentials and endpoint from the environment
 */
export function createDocumentClient(overrides: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  const { connectionTimeoutMs, requestTimeoutMs, maxAttempts, retryDelayMs } = DYNAMODB_TIMEOUTS;
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      maxAttempts,
      retryStrategy: new FixedDelayRetryStrategy(maxAttempts, retryDelayMs),
      requestHandler: { connectionTimeout: connectionTimeoutMs, requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true },
      ...overrides,
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}

/**
 * The SDK's retry strategy interface (RetryStrategyV2): retries what the SDK classes as
 * transient (timeouts, connection resets, 5xx) or throttling — as its standard strategy
 * does — up to `maxAttempts` attempts in all, always `delayMs` apart: a bounded worst case
 * instead of the standard strategy's growing, jittered delays.
 */
export class FixedDelayRetryStrategy {
  constructor(
    readonly maxAttempts: number,
    readonly delayMs: number,
  ) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return retryToken(0, 0);
  }

  async refreshRetryTokenForRetry(
    token: RetryToken,
    errorInfo: { readonly errorType: string; readonly error?: unknown },
  ): Promise<RetryToken> {
    const elsewhere =
      errorInfo.errorType === 'THROTTLING' && (errorInfo.error as Record<symbol, unknown> | undefined)?.[TRY_ELSEWHERE] === true;
    const retryable = !elsewhere && (errorInfo.errorType === 'TRANSIENT' || errorInfo.errorType === 'THROTTLING');
    if (!retryable || token.getRetryCount() + 1 >= this.maxAttempts) throw new Error('no retry left');
    return retryToken(token.getRetryCount() + 1, this.delayMs);
  }

  recordSuccess(): void {}
}

/** Marks a throttling error the caller answers by trying another item (see {@link tryElsewhereWhenThrottled}). */
const TRY_ELSEWHERE = Symbol.for('gatepass.tryElsewhereWhenThrottled');

/** The names DynamoDB's throttling errors go by (per item or partition, per table, per account). */
const THROTTLING_NAMES = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);

/** The reasons a cancelled transaction gives for the writes DynamoDB throttled. */
const THROTTLED_REASONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/**
 * Whether `error` is DynamoDB throttling a request (nothing was applied): a throttling error,
 * or a transaction cancelled only because some of its writes were throttled.
 */
export function isThrottlingError(error: unknown): boolean {
  const { name, CancellationReasons } = (error ?? {}) as { name?: unknown; CancellationReasons?: readonly { Code?: string }[] };
  if (name === 'TransactionCanceledException') {
    const codes = (CancellationReasons ?? []).map((reason) => reason.Code ?? 'None').filter((code) => code !== 'None');
    return codes.length > 0 && codes.every((code) => THROTTLED_REASONS.has(code));
  }
  return THROTTLING_NAMES.has(name as string);
}

/**
 * Whether a throttling error is about the item written — its partition key's throughput —
 * so that spreading the key over more items helps: a reason naming `KeyRangeThroughputExceeded`,
 * or no reason at all (DynamoDB Local; DynamoDB before it gave reasons). A throttle of the
 * table, an index or the account (`…ProvisionedThroughputExceeded`, `…AccountLimitExceeded`,
 * `…MaxOnDemandThroughputExceeded`) is DynamoDB as a whole short of capacity: more counter
 * items would only add writes, and spread a key its few requests then seldom find leases on.
 */
export function isItemThrottle(error: unknown): boolean {
  if (!isThrottlingError(error)) return false;
  const reasons = (error as { ThrottlingReasons?: readonly { reason?: string }[] }).ThrottlingReasons ?? [];
  return reasons.length === 0 || reasons.some((r) => (r.reason ?? '').includes('KeyRange'));
}

/**
 * Sends `command` without the SDK's retry after a throttling answer (other errors are
 * retried as usual): for writes to a hot key's counter items, where the caller tries
 * another counter item at once rather than wait for the same one. Only
 * {@link FixedDelayRetryStrategy} honours it; other strategies retry as they would.
 */
export function tryElsewhereWhenThrottled<C extends { middlewareStack: { add: (...args: never[]) => void } }>(command: C): C {
  const stack = command.middlewareStack as unknown as {
    add(middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>, options: object): void;
  };
  stack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (isThrottlingError(error)) (error as Record<symbol, unknown>)[TRY_ELSEWHERE] = true;
        throw error;
      }
    },
    { step: 'deserialize', priority: 'high' },
  );
  return command;
}

function retryToken(count: number, delay: number): RetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => delay };
}
