/**
 * "The answer was lost after the write landed": a fault injected below the SDK's retry.
 *
 * A middleware in the client's `deserialize` step — inside the retry loop, which lives in
 * `finalizeRequest` — lets an armed write reach DynamoDB, waits for its answer, and throws
 * a connection reset instead of returning it. The SDK classifies `ECONNRESET` as transient
 * and sends the same request again: exactly what happens when a TCP connection dies
 * between DynamoDB applying a write and the caller reading the answer.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Operations that change an item: only their answers are lost (a lost read changes nothing). */
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

const MIDDLEWARE_NAME = 'gatepassLostAnswerAfterWrite';

/** The error the SDK sees instead of the answer: what Node's HTTP client throws on a reset connection. */
export function lostAnswerError(): Error {
  return Object.assign(new Error('socket hang up (the answer of a write that landed was lost)'), { code: 'ECONNRESET' });
}

/**
 * Arms lost answers for the next writes of every client it is installed on.
 *
 * @example
 * const lost = new LostAnswers();
 * lost.installOn(client);
 * lost.arm(1); // the next write lands, its answer is lost, the SDK sends it again
 */
export class LostAnswers {
  #armed = 0;
  #injected = 0;
  #sent = 0;

  /** Loses the answers of the next `count` writes that land (first attempts only). */
  arm(count: number): void {
    this.#armed += count;
  }

  disarm(): void {
    this.#armed = 0;
  }

  get armed(): number {
    return this.#armed;
  }

  /** Answers lost so far (each one a write that DynamoDB applied and the SDK sent again). */
  get injected(): number {
    return this.#injected;
  }

  /** Requests sent by the clients it is installed on, retries included. */
  get sent(): number {
    return this.#sent;
  }

  /** Adds the fault to `client` (and to every document client made from it). Idempotent. */
  installOn(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        this.#sent += 1;
        const result = await next(args);
        // Only an answer that reports success: the write certainly landed. A failed
        // condition wrote nothing, so losing its answer would test nothing.
        if (this.#armed > 0 && WRITES.has(String(context.commandName)) && isFirstAttempt(args.request)) {
          this.#armed -= 1;
          this.#injected += 1;
          throw lostAnswerError();
        }
        return result;
      },
      { step: 'deserialize', name: MIDDLEWARE_NAME, priority: 'high', override: true },
    );
  }
}

/**
 * The retry middleware numbers attempts in the `amz-sdk-request` header (`attempt=1; max=3`).
 * Only a first attempt loses its answer, so that each lost answer is one re-send, never the
 * SDK giving up.
 */
export function isFirstAttempt(request: unknown): boolean {
  const headers = (request as { headers?: Record<string, string> } | undefined)?.headers ?? {};
  const attempt = headers['amz-sdk-request'];
  return attempt === undefined || attempt.startsWith('attempt=1;');
}
