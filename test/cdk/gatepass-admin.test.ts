import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { GatepassAdmin } from '../../lib/gatepass-admin.ts';
import { SessionTable } from '../../lib/session-table.ts';
import { CDK_TEST_TIMEOUT, gatepassConfigOf, logicalId, removeTestOutdirs, roleStatements, testApp } from './test-app.ts';

function build() {
  const stack = new Stack(testApp(), 'Test');
  const sessions = new SessionTable(stack, 'Sessions');
  const admin = new GatepassAdmin(stack, 'Admin', { table: sessions.table, plugins: ['audit'] });
  return { stack, sessions, admin, template: Template.fromStack(stack) };
}

describe('GatepassAdmin', { timeout: CDK_TEST_TIMEOUT }, () => {
  afterEach(removeTestOutdirs);

  it('runs Node.js 22 on ARM64 with the same GATEPASS_CONFIG as the authorizer', () => {
    const { template, admin, sessions } = build();

    expect(template.toJSON().Resources[logicalId(admin.function)].Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
    expect(gatepassConfigOf(template, logicalId(admin.function))).toMatchObject({
      tableName: `<Ref:${logicalId(sessions.table)}>`,
      plugins: ['audit'],
      sessionRetentionSeconds: 2_592_000,
    });
  });

  it('serves a Function URL that requires IAM authentication', () => {
    const { template, admin } = build();

    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [logicalId(admin.function), 'Arn'] },
    });
  });

  it('may write its log group, read, write and delete items, and query the indexes, but never scan the table', () => {
    const { template, admin, sessions } = build();
    const tableArn = { 'Fn::GetAtt': [logicalId(sessions.table), 'Arn'] };

    expect(admin.function.role).toBe(admin.role);
    expect(template.toJSON().Resources[logicalId(admin.role)].Properties.ManagedPolicyArns).toBeUndefined();
    expect(roleStatements(template, logicalId(admin.role))).toEqual([
      {
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [{ 'Fn::GetAtt': [logicalId(admin.logGroup), 'Arn'] }],
      },
      {
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchGetItem'],
        resources: [tableArn],
      },
      {
        actions: ['dynamodb:Query'],
        resources: [{ 'Fn::Join': ['', [tableArn, '/index/alias-index']] }, { 'Fn::Join': ['', [tableArn, '/index/kind-index']] }],
      },
    ]);
  });
});
