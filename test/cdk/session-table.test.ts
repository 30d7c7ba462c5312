import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, it } from 'vitest';
import { SessionTable } from '../../lib/session-table.ts';
import { CDK_TEST_TIMEOUT, removeTestOutdirs, testApp } from './test-app.ts';

function synth(props?: ConstructorParameters<typeof SessionTable>[2]): Template {
  const stack = new Stack(testApp(), 'Test');
  new SessionTable(stack, 'Sessions', props);
  return Template.fromStack(stack);
}

describe('SessionTable', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('creates one on-demand table keyed by the string pk', () => {
    const template = synth();

    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'pk', AttributeType: 'S' }]),
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('turns on point-in-time recovery, AWS-managed KMS encryption and the ttl attribute', () => {
    const template = synth();

    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
  });

  it('has the keys-only alias-index and kind-index', () => {
    const template = synth();

    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'alias', AttributeType: 'S' }]),
      GlobalSecondaryIndexes: [
        { IndexName: 'alias-index', KeySchema: [{ AttributeName: 'alias', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
        {
          IndexName: 'kind-index',
          KeySchema: [
            { AttributeName: 'kind', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('retains the table and protects it from deletion by default', () => {
    const template = synth();

    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ Replicas: [Match.objectLike({ DeletionProtectionEnabled: true })] }),
    });
  });

  it('lets the caller name the table, destroy it and switch deletion protection off', () => {
    const template = synth({ tableName: 'my-sessions', removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false });

    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({
        TableName: 'my-sessions',
        Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
      }),
    });
  });

  it('lets CloudFormation name the table by default', () => {
    const template = synth();

    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { TableName: Match.absent() });
  });
});
