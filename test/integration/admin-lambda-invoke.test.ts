import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/commands/program.ts';
import { createAdminHandler } from '../../lambdas/admin/handler.ts';
import { ConfigSchema } from '../../lambdas/core/model/config.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';

/**
 * `gatepass … --function NAME`: the CLI's Lambda transport, with the Lambda service
 * replaced by the real admin handler on DynamoDB Local (no AWS needed).
 */
describe('the CLI through Lambda Invoke', () => {
  let table: TestTable;
  const lambda = mockClient(LambdaClient);

  beforeAll(async () => {
    table = await createTestTable('admin-invoke');
    const handler = createAdminHandler({
      config: ConfigSchema.parse({ tableName: table.tableName }),
      client: table.doc,
      logger: new Logger({ serviceName: 'admin-invoke-test', logLevel: 'SILENT' }),
    });
    lambda.on(InvokeCommand, { FunctionName: 'gatepass-admin' }).callsFake(async (input: { Payload: Uint8Array }) => {
      const event = JSON.parse(Buffer.from(input.Payload).toString('utf8')) as APIGatewayProxyEventV2;
      const result = await handler(event, lambdaContext('gatepass-admin'));
      return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(result)) };
    });
  });
  afterAll(async () => {
    lambda.restore();
    await table?.drop();
  });

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await runCli(['node', 'gatepass', ...args, '--function', 'gatepass-admin'], {
      out: (text) => (stdout += text),
      err: (text) => (stderr += text),
      env: {},
    });
    return { code, stdout, stderr };
  }

  it('creates, lists, updates and deletes a key, and reports API errors with exit code 1', async () => {
    const created = await cli('keys', 'create', '--alias', 'via-lambda', '--quota-max', '3', '--json');
    const { keyId } = JSON.parse(created.stdout) as { keyId: string };
    const listed = await cli('keys', 'list', '--alias', 'via-lambda', '--json');
    const updated = await cli('keys', 'update', keyId, '--rate', '2', '--per', '1s', '--json');
    const stale = await cli('keys', 'update', keyId, '--rate', '3', '--if-match', '1');
    const deleted = await cli('keys', 'delete', keyId);
    const gone = await cli('keys', 'get', keyId);

    expect(created.code).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((s: { keyId: string }) => s.keyId)).toEqual([keyId]);
    expect(JSON.parse(updated.stdout)).toMatchObject({ rate: 2, per: 1, version: 2 });
    expect(stale).toMatchObject({ code: 1, stdout: '' });
    expect(stale.stderr).toContain('409 version_conflict');
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted ${keyId}\n` });
    expect(gone.code).toBe(1);
    expect(lambda.commandCalls(InvokeCommand).every((call) => call.args[0].input.FunctionName === 'gatepass-admin')).toBe(true);
  });
});
