import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorResult, type HttpResult } from '../../lambdas/admin/http.ts';
import { policyRoutes } from '../../lambdas/admin/policy-routes.ts';
import { match, toHttpError } from '../../lambdas/admin/routes.ts';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { lossyClient, type LossyClientOptions } from '../support/lossy-client.ts';

function fields(input: PolicyInput = {}): PolicyFields {
  const parsed = parsePolicyInput(input);
  if (!parsed.success) throw new Error('bad test policy');
  return parsed.data;
}

/**
 * DynamoDB applies a policy write and its answer is lost: the SDK sends the same write
 * again. The admin API must answer what happened (the write landed), not the re-send's
 * condition failure against its own first attempt.
 */
describe('policy writes whose answer is lost', () => {
  let table: TestTable;
  let clean: PolicyStore;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    table = await createTestTable('policy-lost');
    clean = new PolicyStore({ client: table.doc, tableName: table.tableName, cacheSeconds: 0 });
  });
  afterAll(async () => {
    for (const close of closers) close();
    await table.drop();
  });

  /** The policy routes over a store whose first answer to each write command is lost. */
  function lossyRoutes(options: Partial<LossyClientOptions> = {}) {
    const lossy = lossyClient(table.endpoint, {
      commands: ['UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand'],
      ...options,
    });
    closers.push(lossy.destroy);
    const store = new PolicyStore({ client: lossy.doc, tableName: table.tableName, cacheSeconds: 0 });
    const routes = policyRoutes(store);
    async function call(
      method: string,
      path: string,
      headers: Record<string, string> = {},
      body?: unknown,
    ): Promise<HttpResult & { json: any }> {
      const event = {
        rawPath: path,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        isBase64Encoded: false,
        requestContext: { http: { method, path } },
      } as unknown as APIGatewayProxyEventV2;
      let result: HttpResult;
      try {
        const { handle, params } = match(routes, method, path);
        result = await handle(event, params);
      } catch (error) {
        const known = toHttpError(error);
        if (!known) throw error;
        result = errorResult(known);
      }
      return { ...result, json: result.body ? JSON.parse(result.body as string) : undefined };
    }
    return { call, lost: lossy.lost };
  }

  it('answers 200 with version 1 to a create-only PUT that landed (not 409 already_exists)', async () => {
    const { call, lost } = lossyRoutes();

    const answer = await call('PUT', '/policies/lost.create', { 'if-none-match': '*' }, { quotaMax: 5 });

    expect(lost()).toBe(1);
    expect(answer).toMatchObject({ statusCode: 200, json: { id: 'lost.create', quotaMax: 5, version: 1 } });
    expect(answer.json).not.toHaveProperty('writeToken');
    expect(await clean.get('lost.create')).toEqual(answer.json);
    expect((await clean.list()).find((p) => p.id === 'lost.create')).toEqual(answer.json);
  });

  it('answers 200 to an unguarded and to an If-Match replace that landed, each applied once (not 409 version_conflict)', async () => {
    await clean.put('lost.replace', fields({ quotaMax: 1 }));
    const { call, lost } = lossyRoutes();

    const unguarded = await call('PUT', '/policies/lost.replace', {}, { quotaMax: 2 });
    const guarded = await call('PUT', '/policies/lost.replace', { 'if-match': '2' }, { quotaMax: 3 });

    expect(lost()).toBe(2);
    expect(unguarded).toMatchObject({ statusCode: 200, json: { quotaMax: 2, version: 2 } });
    expect(guarded).toMatchObject({ statusCode: 200, json: { quotaMax: 3, version: 3 } });
    expect(await clean.get('lost.replace')).toMatchObject({ quotaMax: 3, version: 3 });
  });

  it('answers 200 to a landed PUT even when another write came between it and its re-send, which stands', async () => {
    await clean.put('lost.overtaken', fields({ quotaMax: 1 }));
    const { call } = lossyRoutes({
      between: async () => {
        await clean.put('lost.overtaken', fields({ quotaMax: 9 }));
      },
    });

    const answer = await call('PUT', '/policies/lost.overtaken', { 'if-match': '1' }, { quotaMax: 2 });

    expect(answer).toMatchObject({ statusCode: 200 });
    expect(await clean.get('lost.overtaken')).toMatchObject({ quotaMax: 9, version: 3 });
  });

  it('still answers 409 to a PUT whose first attempt really failed its condition', async () => {
    await clean.put('lost.stale', fields());
    await clean.put('lost.stale', fields());
    const { call } = lossyRoutes();

    expect(await call('PUT', '/policies/lost.stale', { 'if-match': '1' }, {})).toMatchObject({ statusCode: 409 });
    expect(await call('PUT', '/policies/lost.stale', { 'if-none-match': '*' }, {})).toMatchObject({ statusCode: 409 });
    expect(await clean.get('lost.stale')).toMatchObject({ version: 2 });
  });

  it('answers 204 to a DELETE that landed (not 404), with or without If-Match', async () => {
    await clean.put('lost.delete', fields());
    await clean.put('lost.delete-guarded', fields());
    const { call, lost } = lossyRoutes();

    expect(await call('DELETE', '/policies/lost.delete')).toMatchObject({ statusCode: 204 });
    expect(await call('DELETE', '/policies/lost.delete-guarded', { 'if-match': '1' })).toMatchObject({ statusCode: 204 });

    expect(lost()).toBe(2);
    expect(await clean.get('lost.delete')).toBeUndefined();
    expect(await clean.get('lost.delete-guarded')).toBeUndefined();
  });

  it('still answers 404 to a DELETE of a policy that never existed, and 409 to a stale If-Match', async () => {
    await clean.put('lost.kept', fields());
    await clean.put('lost.kept', fields());
    const { call } = lossyRoutes();

    expect(await call('DELETE', '/policies/lost.never')).toMatchObject({ statusCode: 404 });
    expect(await call('DELETE', '/policies/lost.kept', { 'if-match': '1' })).toMatchObject({
      statusCode: 409,
      json: { error: { code: 'version_conflict', details: { currentVersion: 2 } } },
    });
    expect(await clean.get('lost.kept')).toMatchObject({ version: 2 });
  });
});
