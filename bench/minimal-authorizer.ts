/**
 * The floor the cold start is held against: an authorizer that does the least a counting
 * authorizer must — one DynamoDB `UpdateItem` through the document client — and allows.
 * `bench/cold-start.ts` bundles it exactly as it bundles gatepass's and starts both in
 * alternating fresh processes: what gatepass loads beyond this is its own start-up cost.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';

const tableName = (JSON.parse(process.env.GATEPASS_CONFIG ?? '{}') as { tableName?: string }).tableName ?? 'gatepass';
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

export async function handler(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  await client.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: 'bench#minimal-authorizer' },
      UpdateExpression: 'ADD #n :one',
      ExpressionAttributeNames: { '#n': 'n' },
      ExpressionAttributeValues: { ':one': 1 },
    }),
  );
  return {
    principalId: 'minimal',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
  };
}
