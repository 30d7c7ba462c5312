import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The DynamoDB document client the handlers use by default: created once per cold start
 * (module scope in the handlers), short timeouts and few attempts because API Gateway
 * is waiting. The endpoint comes from the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`.
 */
export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 1500 } }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}
