import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { StoredSession } from '../../lambdas/core/store/item.ts';

/**
 * Stand-ins for what DynamoDB answers, for unit tests that mock the document client.
 */

/** The exception DynamoDB answers a failed condition with: the old item in raw AttributeValue form. */
export function conditionFailed(old?: StoredSession): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(old ? { Item: marshall(old) } : {}),
  });
}
