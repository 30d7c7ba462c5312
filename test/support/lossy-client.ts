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
