import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorResult, type HttpResult } from '../../lambdas/admin/http.ts';
import { policyRoutes } from '../../lambdas/admin/policy-routes.ts';
import { match, toHttpError } from '../../lambdas/admin/routes.ts';
import { AlreadyExistsError, NotFoundError, VersionConflictError } from '../../lambdas/core/model/errors.ts';
import { parsePolicyInput, type PolicyFields, type PolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore, policyPk, type PolicyStoreOptions } from '../../lambdas/core/policies/policy-store.ts';
import { createDynamoClient } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { concurrently } from '../support/pipeline.ts';

const T0 = 1_750_000_000_000;

function fields(input: PolicyInput = {}): PolicyFields {
  const parsed = parsePolicyInput(input);
  if (!parsed.success) throw new Error('bad test policy');
  return parsed.data;
}

/** A document client of its own (own SDK client, so own middleware stack) counting what it sends. */
function countingClient(endpoint: string): { doc: DynamoDBDocumentClient; raw: DynamoDBClient; calls: string[] } {
  const raw = createDynamoClient(endpoint);
  const doc = DynamoDBDocumentClient.from(raw);
  const calls: string[] = [];
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return { doc, raw, calls };
}

describe('PolicyStore on DynamoDB Local', () => {
  let table: TestTable;
  let admin: PolicyStore;
  let nowMs = T0;
  const clients: DynamoDBClient[] = [];

  /** A store for the authorizer side, on its own counting client, with the test clock. */
  function authorizerStore(options: Partial<PolicyStoreOptions> = {}) {
    const counting = countingClient(table.endpoint);
    clients.push(counting.raw);
    const store = new PolicyStore({ client: counting.doc, tableName: table.tableName, clock: () => nowMs, ...options });
    return { store, calls: counting.calls, doc: counting.doc };
  }

  beforeAll(async () => {
    table = await createTestTable('policies');
    admin = new PolicyStore({ client: table.doc, tableName: table.tableName, cacheSeconds: 0, clock: () => nowMs });
  });
  afterEach(() => {
    nowMs = T0;
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await table.drop();
  });

  describe('put, get and delete', () => {
    it('creates a policy at version 1 and stores it as policy#<id> with kind "policy"', async () => {
      const created = await admin.put('free', fields({ name: 'Free', rate: 10, per: 60, quotaMax: 1000 }));

      expect(created).toEqual({
        ...fields({ name: 'Free', rate: 10, per: 60, quotaMax: 1000 }),
        id: 'free',
        version: 1,
        createdAt: T0 / 1000,
        updatedAt: T0 / 1000,
      });
      expect(await admin.get('free')).toEqual(created);
      const raw = await table.doc.send(new BatchGetCommand({ RequestItems: { [table.tableName]: { Keys: [{ pk: policyPk('free') }] } } }));
      expect(raw.Responses?.[table.tableName]?.[0]).toMatchObject({ pk: 'policy#free', kind: 'policy', id: 'free' });
    });

    it('replaces the whole policy, keeps createdAt and increments version', async () => {
      await admin.put('replace-me', fields({ name: 'Old', tags: ['a'], quotaMax: 5 }));
      nowMs = T0 + 30_000;

      const replaced = await admin.put('replace-me', fields({ rate: 1, per: 1 }));

      expect(replaced).toEqual({
        ...fields({ rate: 1, per: 1 }),
        id: 'replace-me',
        version: 2,
        createdAt: T0 / 1000,
        updatedAt: T0 / 1000 + 30,
      });
      expect(replaced).not.toHaveProperty('name');
    });

    it('replaces only the version given by If-Match, else 409 with the current policy', async () => {
      await admin.put('guarded', fields());
      await admin.put('guarded', fields({ quotaMax: 1 }), 1);

      const stale = admin.put('guarded', fields({ quotaMax: 2 }), 1);

      await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
      await expect(stale).rejects.toMatchObject({ current: { version: 2, quotaMax: 1 } });
      expect(await admin.get('guarded')).toMatchObject({ version: 2, quotaMax: 1 });
    });

    it('fails with NotFoundError when If-Match names a policy that does not exist', async () => {
      await expect(admin.put('never-created', fields(), 3)).rejects.toBeInstanceOf(NotFoundError);
      expect(await admin.get('never-created')).toBeUndefined();
    });

    it('lets exactly one of concurrent create-only puts of the same id succeed', async () => {
      const results = await concurrently(10, (i) =>
        admin.put('race-create', fields({ quotaMax: i }), 0).then(
          (policy) => ({ ok: true as const, policy }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      );

      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => !r.ok).every((r) => r.error instanceof AlreadyExistsError)).toBe(true);
      expect(await admin.get('race-create')).toEqual(winners[0]!.policy);
    });

    it('never lets two concurrent unguarded puts both write over the same version', async () => {
      const results = await concurrently(10, (i) =>
        admin.put('race-replace', fields({ quotaMax: i })).then(
          (policy) => ({ ok: true as const, policy }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      );

      const versions = results.flatMap((r) => (r.ok ? [r.policy.version] : []));
      expect(new Set(versions).size).toBe(versions.length);
      expect((await admin.get('race-replace'))?.version).toBe(versions.length);
      expect(results.filter((r) => !r.ok).every((r) => r.error instanceof VersionConflictError)).toBe(true);
    });

    it('deletes a policy once; a guarded delete at another version changes nothing', async () => {
      await admin.put('doomed', fields());
      await admin.put('doomed', fields());

      await expect(admin.delete('doomed', 1)).rejects.toMatchObject({ current: { version: 2 } });
      expect(await admin.delete('doomed', 2)).toBe(true);
      expect(await admin.delete('doomed')).toBe(false);
      expect(await admin.get('doomed')).toBeUndefined();
    });

    it('fails closed on a malformed policy item instead of reading defaults into it', async () => {
      await table.doc.send(
        new PutCommand({
          TableName: table.tableName,
          Item: { pk: policyPk('broken'), kind: 'policy', id: 'broken', rate: 'fast', version: 1, createdAt: 1, updatedAt: 1 },
        }),
      );

      await expect(admin.get('broken')).rejects.toMatchObject({ code: 'ERR_STORE' });
      await expect(authorizerStore().store.getMany(['broken'])).rejects.toMatchObject({ code: 'ERR_STORE' });
      expect(await admin.delete('broken')).toBe(true); // deleting needs no parse: the way out
    });
  });

  describe('list', () => {
    let own: TestTable;
    beforeAll(async () => {
      own = await createTestTable('policy-list');
    });
    afterAll(async () => {
      await own.drop();
    });

    it('lists every policy sorted by id through the kind index, past one BatchGetItem of 100 keys, and nothing else', async () => {
      const store = new PolicyStore({ client: own.doc, tableName: own.tableName, cacheSeconds: 0 });
      const ids = Array.from({ length: 105 }, (_, i) => `p${String(i).padStart(3, '0')}`);
      await Promise.all(ids.map((id) => store.put(id, fields({ quotaMax: Number(id.slice(1)) }))));
      await own.doc.send(new PutCommand({ TableName: own.tableName, Item: { pk: 'key#abc', kind: 'key', quotaMax: 1 } }));
      await store.delete('p050');

      const listed = await store.list();

      expect(listed.map((p) => p.id)).toEqual(ids.filter((id) => id !== 'p050'));
      expect(listed[7]).toMatchObject({ id: 'p007', quotaMax: 7, version: 1 });
    });
  });

  describe('getMany (the authorizer cache)', () => {
    it('serves a changed policy stale for less than cacheSeconds, and fresh from then on', async () => {
      await admin.put('cached', fields({ quotaMax: 1 }));
      const { store, calls } = authorizerStore({ cacheSeconds: 10 });

      expect((await store.getMany(['cached'])).policies[0]).toMatchObject({ quotaMax: 1 });
      await admin.put('cached', fields({ quotaMax: 2 }));
      nowMs = T0 + 9_999;
      expect((await store.getMany(['cached'])).policies[0]).toMatchObject({ quotaMax: 1 });
      expect(calls).toHaveLength(1);

      nowMs = T0 + 10_000;
      expect((await store.getMany(['cached'])).policies[0]).toMatchObject({ quotaMax: 2 });
      expect(calls).toEqual(['GetItemCommand', 'GetItemCommand']);
    });

    it('caches "not found" for the same bound', async () => {
      const { store, calls } = authorizerStore({ cacheSeconds: 5 });

      expect(await store.getMany(['late'])).toMatchObject({ policies: [], missing: ['late'] });
      await admin.put('late', fields());
      nowMs = T0 + 4_999;
      expect((await store.getMany(['late'])).missing).toEqual(['late']);
      nowMs = T0 + 5_000;
      expect(await store.getMany(['late'])).toMatchObject({ policies: [{ id: 'late' }], missing: [] });
      expect(calls).toHaveLength(2);
    });

    it('reads DynamoDB on every call when cacheSeconds is 0', async () => {
      await admin.put('uncached', fields({ quotaMax: 1 }));
      const { store, calls } = authorizerStore({ cacheSeconds: 0 });

      await store.getMany(['uncached']);
      await admin.put('uncached', fields({ quotaMax: 2 }));
      const { policies } = await store.getMany(['uncached']);

      expect(policies[0]).toMatchObject({ quotaMax: 2 });
      expect(calls).toHaveLength(2);
    });

    it('reads only what is not cached, one GetItem per id (the authorizer may not BatchGetItem), duplicates once, in the order asked', async () => {
      await Promise.all(['m1', 'm2', 'm3'].map((id) => admin.put(id, fields())));
      const { store, calls } = authorizerStore();

      await store.getMany(['m1']);
      const { policies, missing } = await store.getMany(['m3', 'm1', 'gone', 'm2', 'm3']);

      expect(policies.map((p) => p.id)).toEqual(['m3', 'm1', 'm2']);
      expect(missing).toEqual(['gone']);
      expect(calls).toEqual(Array(4).fill('GetItemCommand')); // m1, then m3, gone, m2
    });

    it('keeps at most maxCacheEntries ids, dropping the oldest first', async () => {
      await Promise.all(['b1', 'b2', 'b3'].map((id) => admin.put(id, fields())));
      const { store, calls } = authorizerStore({ maxCacheEntries: 2 });

      await store.getMany(['b1']);
      await store.getMany(['b2']);
      await store.getMany(['b3']);
      calls.length = 0;
      await store.getMany(['b2', 'b3']);
      expect(calls).toHaveLength(0);
      await store.getMany(['b1']);
      expect(calls).toHaveLength(1);
    });

    it('re-reads when the clock goes backwards, rather than trust an entry of unknown age', async () => {
      await admin.put('skew', fields());
      const { store, calls } = authorizerStore();

      await store.getMany(['skew']);
      nowMs = T0 - 1;
      await store.getMany(['skew']);

      expect(calls).toHaveLength(2);
    });

    it('forgets a policy the same store writes or deletes', async () => {
      const { store } = authorizerStore();
      await store.put('own-write', fields({ quotaMax: 1 }));
      await store.getMany(['own-write']);

      await store.put('own-write', fields({ quotaMax: 2 }));
      expect((await store.getMany(['own-write'])).policies[0]).toMatchObject({ quotaMax: 2 });
      await store.delete('own-write');
      expect((await store.getMany(['own-write'])).missing).toEqual(['own-write']);
    });

    it('lists with BatchGetItem, retrying the keys DynamoDB leaves unprocessed', async () => {
      await Promise.all(['u1', 'u2', 'u3'].map((id) => admin.put(id, fields())));
      const { store, doc } = authorizerStore();
      const send = doc.send.bind(doc) as (command: unknown) => Promise<unknown>;
      let throttled = false;
      vi.spyOn(doc, 'send').mockImplementation((async (command: unknown) => {
        if (!throttled && command instanceof BatchGetCommand) {
          throttled = true;
          const request = command.input.RequestItems![table.tableName]!;
          const [first, ...rest] = request.Keys!;
          const out = (await send(new BatchGetCommand({ RequestItems: { [table.tableName]: { ...request, Keys: [first!] } } }))) as object;
          return { ...out, UnprocessedKeys: { [table.tableName]: { ...request, Keys: rest } } };
        }
        return send(command);
      }) as never);

      const listed = (await store.list()).map((p) => p.id);

      expect(throttled).toBe(true);
      expect(listed).toEqual(expect.arrayContaining(['u1', 'u2', 'u3']));
    });
  });

  describe('admin routes', () => {
    let routesTable: ReturnType<typeof policyRoutes>;
    beforeAll(() => {
      routesTable = policyRoutes(admin);
    });

    async function call(
      method: string,
      path: string,
      options: { body?: unknown; headers?: Record<string, string> } = {},
    ): Promise<HttpResult & { json: any }> {
      const event = {
        rawPath: path,
        headers: { 'content-type': 'application/json', ...options.headers },
        body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
        isBase64Encoded: false,
        requestContext: { http: { method, path } },
      } as unknown as APIGatewayProxyEventV2;
      let result: HttpResult;
      try {
        const { handle, params } = match(routesTable, method, path);
        result = await handle(event, params);
      } catch (error) {
        const known = toHttpError(error);
        if (!known) throw error;
        result = errorResult(known);
      }
      return { ...result, json: result.body ? JSON.parse(result.body as string) : undefined };
    }

    it('PUT creates and replaces (200), GET reads (200), DELETE deletes (204), then 404s', async () => {
      const created = await call('PUT', '/policies/route.gold', { body: { name: 'Gold', rate: 100, per: 1, id: 'ignored', version: 99 } });
      expect(created).toMatchObject({ statusCode: 200, json: { id: 'route.gold', name: 'Gold', rate: 100, version: 1 } });

      const replaced = await call('PUT', '/policies/route.gold', { body: { ...created.json, rate: 200 }, headers: { 'If-Match': '1' } });
      expect(replaced).toMatchObject({ statusCode: 200, json: { rate: 200, version: 2 } });

      expect(await call('GET', '/policies/route.gold')).toMatchObject({ statusCode: 200, json: replaced.json });
      expect(await call('DELETE', '/policies/route.gold')).toMatchObject({ statusCode: 204 });
      expect(await call('GET', '/policies/route.gold')).toMatchObject({ statusCode: 404, json: { error: { code: 'not_found' } } });
      expect(await call('DELETE', '/policies/route.gold')).toMatchObject({ statusCode: 404 });
    });

    it('answers 409 on a stale If-Match and on If-None-Match: * for an existing policy', async () => {
      await call('PUT', '/policies/route.busy', { body: {} });
      await call('PUT', '/policies/route.busy', { body: {} });

      expect(await call('PUT', '/policies/route.busy', { body: {}, headers: { 'if-match': '1' } })).toMatchObject({
        statusCode: 409,
        json: { error: { code: 'version_conflict', details: { currentVersion: 2 } } },
      });
      expect(await call('PUT', '/policies/route.busy', { body: {}, headers: { 'if-none-match': '*' } })).toMatchObject({
        statusCode: 409,
        json: { error: { code: 'already_exists' } },
      });
      expect(await call('DELETE', '/policies/route.busy', { headers: { 'if-match': '1' } })).toMatchObject({ statusCode: 409 });
    });

    it('names every bad field, the id included, and writes nothing', async () => {
      const answer = await call('PUT', '/policies/bad%20id', { body: { rate: 5, quotaMax: 'lots', extra: true } });

      expect(answer.statusCode).toBe(400);
      expect(answer.json.error.code).toBe('invalid_fields');
      expect(answer.json.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['extra', 'id', 'per', 'quotaMax']);
      expect(await call('GET', '/policies/bad%20id')).toMatchObject({ statusCode: 404 });
    });

    it('maps body and header problems as the keys routes do (415, 400)', async () => {
      expect(await call('PUT', '/policies/route.x', { body: '{}', headers: { 'content-type': 'text/plain' } })).toMatchObject({
        statusCode: 415,
      });
      expect(await call('PUT', '/policies/route.x', { body: '{not json' })).toMatchObject({
        statusCode: 400,
        json: { error: { code: 'invalid_json' } },
      });
      expect(await call('PUT', '/policies/route.x', { body: {}, headers: { 'if-match': 'soon' } })).toMatchObject({ statusCode: 400 });
      expect(await call('PUT', '/policies/route.x', { body: {}, headers: { 'if-none-match': '"3"' } })).toMatchObject({ statusCode: 400 });
      expect(await call('GET', '/policies/route.x')).toMatchObject({ statusCode: 404 });
    });

    it('GET /policies lists the policies as {items}', async () => {
      await call('PUT', '/policies/route.listed', { body: { quotaMax: 3 } });

      const answer = await call('GET', '/policies');

      expect(answer.statusCode).toBe(200);
      expect(answer.json.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'route.listed', quotaMax: 3 })]));
      expect(answer.json.items.every((p: object) => !('pk' in p) && !('kind' in p))).toBe(true);
    });
  });
});
