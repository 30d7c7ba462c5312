import { type DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';

/** Where a simulated throttle comes from: the item itself (DynamoDB gives the reason `…KeyRangeThroughputExceeded`, DynamoDB Local none) or the whole table. */
export type ThrottleKind = 'item' | 'table';

/** A throttle as DynamoDB answers it: of one item (no reason, as DynamoDB Local), or of the table. */
export function throttle(kind: ThrottleKind): ProvisionedThroughputExceededException {
  if (kind === 'item') return new ProvisionedThroughputExceededException({ message: 'throttled (simulated)', $metadata: {} });
  return new ProvisionedThroughputExceededException({
    message: 'table throttled (simulated)',
    $metadata: {},
    ThrottlingReasons: [{ reason: 'TableWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:::table/t' }],
  });
}

/**
 * Throttles the attempts `rule` names, below the SDK's retries (each attempt is asked):
 * `rule(command, pk)` gets the command's name and its `Key.pk` ('' for a transaction) and
 * answers the kind of throttle, or nothing to send the attempt on. `onError` sees what
 * DynamoDB answered the attempts sent.
 */
export function throttleAttempts(
  client: DynamoDBClient,
  rule: (command: string, pk: string) => ThrottleKind | undefined,
  onError?: (error: unknown, command: string, pk: string) => void,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      const pk = (args as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S ?? '';
      const kind = rule(command, pk);
      if (kind !== undefined) throw throttle(kind);
      try {
        return await next(args);
      } catch (error) {
        onError?.(error, command, pk);
        throw error;
      }
    },
    { step: 'deserialize', priority: 'low', name: 'simulatedThrottles' },
  );
}

/**
 * Throttles a share of a hot key's counting writes table-wide: UpdateItems of counter items
 * (`<pk>#c<i>`: spends) and every transaction (fills, coolings), each with probability `share` —
 * requests then meet busy counter items and count again on the item they read before. With
 * `sessionReads`, reads of session items too; with `when`, only while it answers true.
 */
export function throttleCountingWrites(
  client: DynamoDBClient,
  share: number,
  options: { readonly sessionReads?: boolean; readonly when?: () => boolean } = {},
): void {
  throttleAttempts(client, (command, pk) => {
    if (options.when?.() === false) return undefined;
    const counting =
      command === 'TransactWriteItemsCommand' ||
      (command === 'UpdateItemCommand' && pk.includes('#c')) ||
      (options.sessionReads === true && command === 'GetItemCommand' && !pk.includes('#c'));
    return counting && Math.random() < share ? 'table' : undefined;
  });
}
