/**
 * Vitest global setup: one DynamoDB Local for the whole test run (each test file creates
 * its own uniquely named table, see `test/support/dynamo.ts`).
 *
 * Set `DYNAMODB_ENDPOINT` to use an already running DynamoDB instead. The endpoint reaches
 * the tests through `inject('dynamoEndpoint')` and, for code that builds its own SDK
 * client, through `AWS_ENDPOINT_URL_DYNAMODB` (worker processes inherit it because they
 * are started after this setup).
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/dynamodb-local.ts';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  // vitest's `test.env` reaches the workers only; this file runs in the main process.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const external = process.env.DYNAMODB_ENDPOINT;
  if (external) {
    share(project, external);
    return;
  }
  const db = await startDynamoDbLocal();
  share(project, db.endpoint);
  return async () => {
    await db.stop();
  };
}

function share(project: TestProject, endpoint: string): void {
  project.provide('dynamoEndpoint', endpoint);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
}
