import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient } from '../../local/table.ts';

/** A document client that loses answers, and how many it lost. */
export interface LossyClient {
  readonly doc: DynamoDBDocumentClient;
  /** Answers lost so far. */
  lost(): number;
  /** Closes the underlying client. */
  destroy(): void;
}

export interface LossyClientOptions {
  /** The SDK command names whose answers are lost, e.g. `UpdateItemCommand`. */
  readonly commands: readonly string[];
  /** Runs after the write landed and before the SDK sends it again (another writer, say). */
  readonly between?: () => Promise<void>;
}

/**
 * A document client on `endpoint` whose answer to each listed command is lost once, after
 * DynamoDB applied it (a connection reset): the SDK's own retry then sends the same request
 * again, as it would in Lambda. Injected below the retry, so the first write really lands.
 *
 * @example
 * const { doc, lost } = lossyClient(table.endpoint, { commands: ['UpdateItemCommand'] });
 */
export function lossyClient(endpoint: string, options: LossyClientOptions): LossyClient {
  const client = createDynamoClient(endpoint);
  let lost = 0;
  let drop = true;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (options.commands.includes(String(context.commandName)) && drop) {
        drop = false;
        lost++;
        await options.between?.();
        throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
      }
      drop = true;
      return result;
    },
    { step: 'deserialize', name: 'loseAnswers', priority: 'low' },
  );
  const doc = DynamoDBDocumentClient.from(client);
  return { doc, lost: () => lost, destroy: () => client.destroy() };
}

/** See {@link loseNextTransactionAnswer}. */
export interface LostAnswer {
  /** Arms the client's next transaction; `between` runs once it landed, before its answer is lost. */
  arm(between?: () => Promise<void>): void;
  /** Whether the armed transaction has not been sent again yet. */
  readonly armed: boolean;
  /** Armed transactions that landed (with their answer lost) since the last `arm`. */
  readonly landings: number;
}

/**
 * Arms `client` (one with the SDK's retries, such as the Lambdas') so that, once armed, its
 * next TransactWriteItems lands, its answer is lost (a connection reset), and the SDK's
 * re-send then fails with `resend()` (a throttle, a timeout) before reaching DynamoDB.
 * Injected below the retry, so the first copy really lands.
 */
export function loseNextTransactionAnswer(client: DynamoDBClient, resend: () => Error): LostAnswer {
  const state = { armed: false, landings: 0, attempt: 0, between: async () => {} };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'TransactWriteItemsCommand' || !state.armed) return next(args);
      if (++state.attempt === 1) {
        const out = await next(args);
        // Read nothing of the answer, but hand its socket back.
        (out.response as { body?: { destroy?: () => void } }).body?.destroy?.();
        state.landings++;
        await state.between();
        throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
      }
      state.armed = false;
      throw resend();
    },
    { step: 'deserialize', name: 'loseNextTransactionAnswer', priority: 'low' },
  );
  return {
    arm(between = async () => {}) {
      Object.assign(state, { armed: true, landings: 0, attempt: 0, between });
    },
    get armed() {
      return state.armed;
    },
    get landings() {
      return state.landings;
    },
  };
}
