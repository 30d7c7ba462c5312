import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  TransactionInProgressException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type TransactItem, transactOnce } from '../../../lambdas/core/store/transaction.ts';

/**
 * How a change is sent again (`transactOnce`): under the same client request token whenever
 * an earlier copy may have landed (DynamoDB then answers with that copy's success instead of
 * applying it twice), under a new one only after a cancellation that says it did not land.
 * The real-DynamoDB side (a lost answer, then a throttled re-send) is in
 * test/integration/attack5-reset-resent.test.ts.
 */
describe('transactOnce: which token a re-sent change carries', () => {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const mock = mockClient(doc);
  const items: TransactItem[] = [
    { Update: { TableName: 't', Key: { pk: 'key#a' }, UpdateExpression: 'SET x = :x', ExpressionAttributeValues: { ':x': 1 } } },
  ];
  const never = (): never => {
    throw new Error('no condition should fail');
  };
  const cancelled = (...codes: string[]) =>
    new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: codes.map((Code) => ({ Code })),
    });
  const tokens = () => mock.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.ClientRequestToken);

  beforeEach(() => {
    mock.reset();
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const run = async () => {
    const done = transactOnce(doc, items, never);
    await vi.runAllTimersAsync();
    await done;
  };

  it.each([
    [
      'a throttled send (an earlier attempt of it may have landed)',
      new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} }),
    ],
    ['a cancellation whose every reason is throttling', cancelled('ThrottlingError', 'None', 'ProvisionedThroughputExceeded')],
    ['DynamoDB still applying a copy sent under it', new TransactionInProgressException({ message: 'in progress', $metadata: {} })],
  ])('keeps the token after %s', async (_, error) => {
    mock.on(TransactWriteCommand).rejectsOnce(error).resolves({});
    await run();
    const sent = tokens();
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]);
  });

  it('draws a new token after a cancellation by a conflicting transaction (nothing landed)', async () => {
    mock.on(TransactWriteCommand).rejectsOnce(cancelled('TransactionConflict')).resolves({});
    await run();
    const sent = tokens();
    expect(sent).toHaveLength(2);
    expect(sent[1]).not.toBe(sent[0]);
  });

  it('fails on any other cancellation, without sending it again', async () => {
    mock.on(TransactWriteCommand).rejects(cancelled('ValidationError'));
    const done = transactOnce(doc, items, never);
    const outcome = expect(done).rejects.toBeInstanceOf(TransactionCanceledException);
    await vi.runAllTimersAsync();
    await outcome;
    expect(tokens()).toHaveLength(1);
  });
});

describe('transactOnce: a signal that aborts ends its re-sends', () => {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const mock = mockClient(doc);
  const items: TransactItem[] = [{ Update: { TableName: 't', Key: { pk: 'key#a' }, UpdateExpression: 'SET x = :x' } }];
  const never = (): never => {
    throw new Error('no condition should fail');
  };
  const throttled = new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} });

  beforeEach(() => mock.reset());

  it('stops during a pause between throttled re-sends: no further pause or send', async () => {
    mock.on(TransactWriteCommand).rejects(throttled);
    const controller = new AbortController();
    const reason = new Error('the request failed closed');
    const started = performance.now();
    const done = transactOnce(doc, items, never, controller.signal);
    setTimeout(() => controller.abort(reason), 120);
    await expect(done).rejects.toBe(reason);
    // Stopped right at the abort, not after the ~3.3 s of pauses of its 12 throttled sends.
    expect(performance.now() - started).toBeLessThan(300);
    const sent = mock.commandCalls(TransactWriteCommand).length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(sent);
    expect(sent).toBeLessThan(12);
  });

  it('sends nothing once its signal has aborted', async () => {
    mock.on(TransactWriteCommand).resolves({});
    const reason = new Error('failed closed');
    await expect(transactOnce(doc, items, never, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('without a signal, re-sends a throttled change until it lands', async () => {
    mock.on(TransactWriteCommand).rejectsOnce(throttled).rejectsOnce(throttled).resolves({});
    await transactOnce(doc, items, never, undefined);
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(3);
  });
});
