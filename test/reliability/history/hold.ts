/**
 * Holds one admin write between its read and its write: a middleware in the client's
 * `initialize` step (before the request is built, so DynamoDB has seen nothing of it)
 * parks the next write command until it is let go. The history uses it to keep a
 * reset-quota in flight while the key it read is deleted and created again.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);
const READS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'TransactGetItemsCommand']);

export interface Held {
  /** Resolves when a write is parked (`read`: a read went out before it, since `hold()`). */
  readonly parked: Promise<{ readonly read: boolean }>;
  /** Lets the parked write go on. */
  release(): void;
}

export class HoldNextWrite {
  #armed: { read: boolean; park: (read: boolean) => void; released: Promise<void> } | undefined;

  /** Parks the next write of every client it is installed on (one at a time). */
  hold(): Held {
    let park!: (read: boolean) => void;
    let release!: () => void;
    const parked = new Promise<{ read: boolean }>((resolve) => {
      park = (read) => resolve({ read });
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#armed = { read: false, park, released };
    return {
      parked,
      release: () => {
        this.#armed = undefined;
        release();
      },
    };
  }

  installOn(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const armed = this.#armed;
        const command = String(context.commandName);
        if (armed !== undefined && READS.has(command)) armed.read = true;
        if (armed !== undefined && WRITES.has(command)) {
          this.#armed = undefined;
          armed.park(armed.read);
          await armed.released;
        }
        return next(args);
      },
      { step: 'initialize', name: 'gatepassHoldNextWrite', override: true },
    );
  }
}
