import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { tally } from '../../../lambdas/core/usage/tally.ts';
import { markerPk, UsageWriter } from '../../../lambdas/core/usage/usage-writer.ts';

/**
 * How the usage writer reads a cancelled transaction (DynamoDB Local runs transactions one
 * at a time, so conflicts are played here by a client double): the marker's failed
 * condition means "already counted"; a conflict is retried; anything else is thrown, and
 * the batch is delivered again.
 */
const KEY_ID = 'a'.repeat(64);
const TALLIES = tally([{ keyId: KEY_ID, day: '2026-11-29', outcome: 'deny', reason: 'rate_limited' }]);

function cancelled(...codes: string[]): Error {
  return Object.assign(new Error('Transaction cancelled'), {
    name: 'TransactionCanceledException',
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

function writerAnswering(...answers: Array<Error | undefined>) {
  const send = vi.fn(async () => {
    const answer = answers.shift();
    if (answer) throw answer;
    return {};
  });
  const waits: number[] = [];
  const writer = new UsageWriter({
    client: { send } as unknown as DynamoDBDocumentClient,
    tableName: 'sessions',
    clock: () => Date.UTC(2026, 10, 29, 12),
    sleep: async (ms) => waits.push(ms),
  });
  return { writer, send, waits };
}

describe('UsageWriter', () => {
  it('adds the counters and creates the marker in one transaction', async () => {
    const { writer, send } = writerAnswering(undefined);

    expect(await writer.write(TALLIES, ['e1', 'e2'])).toEqual({ chunks: 1, counted: 1, alreadyCounted: 0, items: 1 });

    const items = (
      send.mock.calls[0] as unknown as [
        {
          input: {
            TransactItems: Array<
              Record<
                string,
                { Key?: unknown; Item?: unknown; UpdateExpression?: string; ExpressionAttributeNames?: Record<string, string> }
              >
            >;
          };
        },
      ]
    )[0].input.TransactItems;
    expect(items).toHaveLength(2);
    expect(items[0]!.Update).toMatchObject({
      Key: { pk: `usage#${KEY_ID}#2026-11-29` },
      UpdateExpression: 'SET #keyId = :keyId, #day = :day, #ttl = :ttl ADD #c0 :c0',
      ExpressionAttributeNames: { '#c0': 'denied_rate_limited' },
    });
    expect(items[1]!.Put).toMatchObject({ Item: { pk: markerPk(['e1', 'e2'], 0) }, ConditionExpression: 'attribute_not_exists(#pk)' });
  });

  it('reads a cancellation on the marker\'s condition as "already counted"', async () => {
    const { writer } = writerAnswering(cancelled('None', 'ConditionalCheckFailed'));

    expect(await writer.write(TALLIES, ['e1'])).toMatchObject({ counted: 0, alreadyCounted: 1 });
  });

  it('retries a transaction that lost to a concurrent one', async () => {
    const { writer, send, waits } = writerAnswering(cancelled('TransactionConflict', 'None'), undefined);

    expect(await writer.write(TALLIES, ['e1'])).toMatchObject({ counted: 1 });
    expect(send).toHaveBeenCalledTimes(2);
    expect(waits).toHaveLength(1);
  });

  it('gives up after 8 conflicts in a row, so that the batch is delivered again', async () => {
    const { writer, send } = writerAnswering(...Array.from({ length: 8 }, () => cancelled('TransactionConflict', 'None')));

    await expect(writer.write(TALLIES, ['e1'])).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    expect(send).toHaveBeenCalledTimes(8);
  });

  it('throws any other cancellation or error', async () => {
    await expect(writerAnswering(cancelled('ValidationError', 'None')).writer.write(TALLIES, ['e1'])).rejects.toMatchObject({
      name: 'TransactionCanceledException',
    });
    await expect(writerAnswering(new Error('socket hang up')).writer.write(TALLIES, ['e1'])).rejects.toThrow('socket hang up');
  });

  it('names each chunk of a batch by the batch ids and the chunk index', () => {
    expect(markerPk(['e1', 'e2'], 0)).toMatch(/^usagebatch#[0-9a-f]{64}$/);
    expect(markerPk(['e1', 'e2'], 0)).toBe(markerPk(['e1', 'e2'], 0));
    expect(markerPk(['e1', 'e2'], 1)).not.toBe(markerPk(['e1', 'e2'], 0));
    expect(markerPk(['e1', 'e3'], 0)).not.toBe(markerPk(['e1', 'e2'], 0));
  });

  it('names a chunk by the set of batch ids, whatever their order', () => {
    expect(markerPk(['e2', 'e1', 'e3'], 0)).toBe(markerPk(['e1', 'e2', 'e3'], 0));
    expect(markerPk(['e1', 'e2'], 0)).not.toBe(markerPk(['e1e2'], 0));
  });

  it('cuts the same tallies into the same chunks, with the same markers, whatever order they come in', async () => {
    const tallies = tally(
      Array.from(
        { length: 150 },
        (_, i) => ({ keyId: i.toString(16).padStart(64, '0'), day: '2026-11-29', outcome: 'allow', reason: 'allowed' }) as const,
      ),
    );
    const ids = Array.from({ length: 150 }, (_, i) => `e${i}`);
    const inOrder = writerAnswering(undefined, undefined);
    const reversed = writerAnswering(undefined, undefined);

    await inOrder.writer.write(tallies, ids);
    await reversed.writer.write([...tallies].reverse(), [...ids].reverse());

    const sent = (send: typeof inOrder.send) =>
      JSON.stringify(send.mock.calls.map((call) => (call as unknown as [{ input: unknown }])[0].input));
    expect(reversed.send).toHaveBeenCalledTimes(2);
    expect(sent(reversed.send)).toBe(sent(inOrder.send));
  });
});
