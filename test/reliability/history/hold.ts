/**
 * Holds one write between its read and its write: a middleware in the client's
 * `initialize` step (before the request is built, so DynamoDB has seen nothing of it)
 * parks the next write command — or the next one a matcher picks — until it is let go. The
 * history uses it to keep a reset-quota in flight while the key it read is deleted and
 * created again, and to keep one instance's counting write (a spend, a fill, a cooling) in
 * flight while other steps run (a held request).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);
const READS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'TransactGetItemsCommand']);

/** A write command as it goes out: its name and input (document-client or marshalled). */
export interface WriteCommand {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

export interface Held {
  /** Resolves when a write is parked (`read`: a read went out before it, since `hold()`; `write`: what was parked). */
  readonly parked: Promise<{ readonly read: boolean; readonly write: WriteCommand }>;
  /** Lets the parked write go on (or, if none is parked yet, parks none). */
  release(): void;
  /** Once the parked write was sent: `landed`, or the name of the error it met (its condition failed: `TransactionCanceledException`, …). */
  readonly sent: Promise<string>;
}

interface Armed {
  read: boolean;
  readonly matches: (write: WriteCommand) => boolean;
  readonly park: (read: boolean, write: WriteCommand) => void;
  readonly released: Promise<void>;
  readonly sent: (outcome: string) => void;
}

export class HoldNextWrite {
  #armed: Armed | undefined;

  /** Parks the next write (that `matches`, if given) of every client it is installed on (one at a time). */
  hold(matches: (write: WriteCommand) => boolean = () => true): Held {
    let park!: Armed['park'];
    let release!: () => void;
    const parked = new Promise<{ read: boolean; write: WriteCommand }>((resolve) => {
      park = (read, write) => resolve({ read, write });
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sent!: (outcome: string) => void;
    const outcome = new Promise<string>((resolve) => {
      sent = resolve;
    });
    const armed: Armed = { read: false, matches, park, released, sent };
    this.#armed = armed;
    return {
      parked,
      release: () => {
        if (this.#armed === armed) this.#armed = undefined;
        release();
      },
      sent: outcome,
    };
  }

  installOn(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const armed = this.#armed;
        const command = String(context.commandName);
        if (armed !== undefined && READS.has(command)) armed.read = true;
        const write = { command, input: args.input as Record<string, unknown> };
        if (armed !== undefined && WRITES.has(command) && armed.matches(write)) {
          this.#armed = undefined;
          armed.park(armed.read, write);
          await armed.released;
          try {
            const result = await next(args);
            armed.sent('landed');
            return result;
          } catch (error) {
            armed.sent((error as { name?: string }).name ?? 'Error');
            throw error;
          }
        }
        return next(args);
      },
      { step: 'initialize', name: 'gatepassHoldNextWrite', override: true },
    );
  }
}
