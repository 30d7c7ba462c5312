import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { isItemThrottle, isThrottlingError } from '../../../lambdas/core/store/dynamo-client.ts';

/** Which DynamoDB errors say "throttled, nothing applied": the one test the counting, the hot-key path and the retries share. */
describe('isThrottlingError', () => {
  const cancelled = (...codes: string[]) =>
    new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: codes.map((Code) => ({ Code })),
    });

  it('knows the throttling errors by name', () => {
    expect(isThrottlingError(new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} }))).toBe(true);
    expect(isThrottlingError(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isThrottlingError(Object.assign(new Error('x'), { name: 'RequestLimitExceeded' }))).toBe(true);
  });

  it('counts a transaction cancelled only because writes were throttled', () => {
    expect(isThrottlingError(cancelled('None', 'ThrottlingError', 'ProvisionedThroughputExceeded'))).toBe(true);
  });

  it('does not count a cancellation with any other reason, or none', () => {
    expect(isThrottlingError(cancelled('ThrottlingError', 'ConditionalCheckFailed'))).toBe(false);
    expect(isThrottlingError(cancelled('TransactionConflict'))).toBe(false);
    expect(isThrottlingError(cancelled())).toBe(false);
  });

  it('does not count other errors', () => {
    expect(isThrottlingError(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }))).toBe(false);
    expect(isThrottlingError(new Error('socket hang up'))).toBe(false);
    expect(isThrottlingError(undefined)).toBe(false);
  });
});

/** Which throttles are about the item written (spreading the key helps), and which about the table or account (it would not). */
describe('isItemThrottle', () => {
  const throttled = (...reasons: string[]) =>
    new ProvisionedThroughputExceededException({
      message: 'throttled',
      $metadata: {},
      ...(reasons.length > 0 ? { ThrottlingReasons: reasons.map((reason) => ({ reason, resource: 'arn:aws:dynamodb:::table/t' })) } : {}),
    });

  it("takes a key range's throttle, or one that gives no reason, as the item's", () => {
    expect(isItemThrottle(throttled('TableWriteKeyRangeThroughputExceeded'))).toBe(true);
    expect(isItemThrottle(throttled('TableWriteProvisionedThroughputExceeded', 'TableWriteKeyRangeThroughputExceeded'))).toBe(true);
    expect(isItemThrottle(throttled())).toBe(true);
  });

  it("does not take a table's, an index's or the account's throttle as the item's", () => {
    expect(isItemThrottle(throttled('TableWriteProvisionedThroughputExceeded'))).toBe(false);
    expect(isItemThrottle(throttled('TableWriteAccountLimitExceeded'))).toBe(false);
    expect(isItemThrottle(throttled('TableWriteMaxOnDemandThroughputExceeded'))).toBe(false);
    expect(isItemThrottle(throttled('IndexWriteProvisionedThroughputExceeded'))).toBe(false);
  });

  it('is false for what is not a throttle', () => {
    expect(isItemThrottle(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }))).toBe(false);
  });
});
