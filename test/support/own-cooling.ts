import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { throttle } from './throttles.ts';

/**
 * Tests of what an instance does right after its own cooling of a hot key lands (the
 * transaction that deletes counter items): what its client throttles from then on.
 */

/** One attempt of the client, as the throttle rule sees it. */
export interface Attempt {
  /** `GetItemCommand`, `TransactWriteItemsCommand`, … */
  readonly command: string;
  /** `Key.pk` of the attempt ('' for a transaction). */
  readonly pk: string;
  /** The attempt's input as JSON (which items a transaction names). */
  readonly input: string;
}

export interface OwnCooling {
  /** `Date.now()` when the client's cooling landed; 0 before. */
  landedAt: number;
  /** Whether a cooling that lands now is noted. @default true */
  armed: boolean;
}

/**
 * Notes when `client`'s own cooling lands, and throttles (as DynamoDB throttles an item) every
 * attempt `throttled` names, asked before each attempt is sent, with the cooling as noted so far.
 */
export function watchOwnCooling(client: DynamoDBClient, throttled: (attempt: Attempt, cooling: OwnCooling) => boolean): OwnCooling {
  const cooling: OwnCooling = { landedAt: 0, armed: true };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input?: { Key?: { pk?: { S?: string } } } }).input;
      const attempt = { command: String(context.commandName), pk: input?.Key?.pk?.S ?? '', input: JSON.stringify(input ?? {}) };
      if (throttled(attempt, cooling)) throw throttle('item');
      const out = await next(args);
      if (cooling.armed && cooling.landedAt === 0 && attempt.command === 'TransactWriteItemsCommand' && attempt.input.includes('"Delete"'))
        cooling.landedAt = Date.now();
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'ownCooling' },
  );
  return cooling;
}

/** Whether `attempt` reads the session item `pk` within `ms` of the cooling's landing. */
export function readsSessionWithin(attempt: Attempt, cooling: OwnCooling, pk: string, ms = Infinity): boolean {
  return cooling.landedAt > 0 && Date.now() - cooling.landedAt < ms && attempt.command === 'GetItemCommand' && attempt.pk === pk;
}
