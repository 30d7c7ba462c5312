import { DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { pastLifePk } from '../../lambdas/core/store/past-lives.ts';

/**
 * Forgets the last version of `pk`'s deleted lives, as when its record's TTL has passed: the
 * next life starts at version 1 again, and only the incarnation tells it from the old one.
 * For attacks on that last guard.
 */
export async function forgetPastLives(doc: DynamoDBDocumentClient, tableName: string, pk: string): Promise<void> {
  await doc.send(new DeleteCommand({ TableName: tableName, Key: { pk: pastLifePk(pk) } }));
}
