import { DynamoDBClient, InternalServerError } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import { keyIdOf } from '../../../lambdas/core/model/keys.ts';
import type { Log } from '../../../lambdas/core/model/log.ts';
import { Pipeline, type AuthRequest } from '../../../lambdas/core/request/pipeline.ts';
import type { StoredSession } from '../../../lambdas/core/store/item.ts';
import { SessionStore } from '../../../lambdas/core/store/store.ts';
import { conditionFailed } from '../../support/dynamo-doubles.ts';

/**
 * The pipeline's mechanics, with DynamoDB answered by a mock: which requests it sends on
 * each path, and that it decides again on the item a failed write returns. What is counted
 * and allowed on real DynamoDB semantics is proven in test/integration and test/reliability.
 */
const NOW_MS = 1_700_000_000_000;
const NOW = NOW_MS / 1000;
const KEY = 'gp_Wk3v9cQ7h2LxR0aZ5mN8pT1yB4dF6gJ0sU3eO7iK2qA';
const KEY_ID = keyIdOf(KEY);
const PK = `key#${KEY_ID}`;

function item(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    pk: PK,
    keyId: KEY_ID,
    incarnation: 'inc-1',
    expires: 0,
    quotaMax: 10,
    quotaUsed: 2,
    quotaRenewalRate: 3600,
    quotaStart: (NOW + 600 - 3600) * 1000,
    rate: 0,
    per: 0,
    accessRights: {},
    applyPolicies: [],
    metaData: { plan: 'gold' },
    tags: [],
    isInactive: false,
    createdAt: NOW - 1000,
    updatedAt: NOW - 1000,
    version: 3,
    ...overrides,
  };
}

function request(overrides: Partial<AuthRequest> = {}): AuthRequest {
  return {
    apiId: 'api1',
    stage: 'prod',
    method: 'GET',
    path: '/pets',
    headers: { authorization: KEY },
    query: {},
    sourceIp: '127.0.0.1',
    ...overrides,
  };
}

const lines: string[] = [];
const log: Log = {
  debug: (m, ...e) => void lines.push(JSON.stringify([m, e])),
  info: (m, ...e) => void lines.push(JSON.stringify([m, e])),
  warn: (m, ...e) => void lines.push(JSON.stringify([m, e])),
  error: (m, ...e) => void lines.push(JSON.stringify([m, e])),
};

const ddb = mockClient(DynamoDBDocumentClient);

function pipeline(): Pipeline {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const store = new SessionStore({ client, tableName: 'sessions', retentionSeconds: 0 });
  return new Pipeline({ config: ConfigSchema.parse({ tableName: 'sessions' }), store, log, clock: () => NOW_MS });
}

const sent = () => ddb.calls().map((call) => (call.args[0] as object).constructor.name);

beforeEach(() => {
  lines.length = 0;
});
afterEach(() => {
  ddb.reset();
});

describe('Pipeline', () => {
  it('reads a key it has not seen, then counts with one conditional write guarded by the version it read', async () => {
    ddb.on(GetCommand).resolves({ Item: item() });
    ddb.on(UpdateCommand).resolves({ Attributes: item({ quotaUsed: 3 }) });

    const decision = await pipeline().authorize(request());

    expect(decision).toMatchObject({ allow: true, principalId: KEY_ID, context: { quotaRemaining: 7, quotaMax: 10, meta_plan: 'gold' } });
    expect(sent()).toEqual(['GetCommand', 'UpdateCommand']);
    const write = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(Object.values(write.ExpressionAttributeValues ?? {})).toEqual(expect.arrayContaining([3, 'inc-1']));
    expect(write.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });

  it('counts a key whose settings it remembers with one write and no read', async () => {
    ddb.on(GetCommand).resolves({ Item: item() });
    ddb.on(UpdateCommand).resolves({ Attributes: item({ quotaUsed: 3 }) });
    const instance = pipeline();
    await instance.authorize(request());

    expect((await instance.authorize(request())).allow).toBe(true);
    expect(sent()).toEqual(['GetCommand', 'UpdateCommand', 'UpdateCommand']);
  });

  it('decides again on the item a failed write returns, without a read', async () => {
    ddb.on(GetCommand).resolves({ Item: item() });
    ddb
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed(item({ version: 4, quotaUsed: 10 })))
      .resolves({ Attributes: item() });

    const decision = await pipeline().authorize(request());

    expect(decision).toMatchObject({ allow: false, reason: 'quota_exceeded', context: { quotaRenews: NOW + 600 } });
    expect(sent()).toEqual(['GetCommand', 'UpdateCommand']);
  });

  it('never denies on remembered settings: a route they forbid is read again and decided on the item as it is', async () => {
    const before = item({ accessRights: { api1: {} } });
    const after = item({ accessRights: { api1: {}, api2: {} }, version: 4 });
    ddb.on(GetCommand).resolvesOnce({ Item: before }).resolves({ Item: after });
    ddb.on(UpdateCommand).resolvesOnce({ Attributes: before }).resolves({ Attributes: after });
    const instance = pipeline();
    expect((await instance.authorize(request())).allow).toBe(true); // remembers rights: api1 only
    // An admin has since opened api2 to the key: the remembered copy would deny, the item allows.
    expect(await instance.authorize(request({ apiId: 'api2' }))).toMatchObject({ allow: true });
    expect(sent().slice(2)).toEqual(['GetCommand', 'UpdateCommand']);
  });

  it('allows a key with nothing to count on one consistent read, and never writes', async () => {
    ddb.on(GetCommand).resolves({ Item: item({ quotaMax: -1 }) });
    const instance = pipeline();
    expect((await instance.authorize(request())).allow).toBe(true);
    expect((await instance.authorize(request())).allow).toBe(true);
    expect(sent()).toEqual(['GetCommand', 'GetCommand']);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input.ConsistentRead).toBe(true);
  });

  it('denies key_not_found when the key was deleted since this instance remembered it', async () => {
    ddb.on(GetCommand).resolves({ Item: item() });
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: item({ quotaUsed: 3 }) })
      .rejects(conditionFailed(undefined));
    const instance = pipeline();
    await instance.authorize(request());
    expect(await instance.authorize(request())).toMatchObject({ allow: false, reason: 'key_not_found' });
  });

  it('fails closed with a contention error after a bounded number of failed writes', async () => {
    let version = 3;
    ddb.on(GetCommand).resolves({ Item: item() });
    ddb.on(UpdateCommand).callsFake(() => {
      throw conditionFailed(item({ version: ++version }));
    });
    await expect(pipeline().authorize(request())).rejects.toMatchObject({ code: 'ERR_CONTENTION' });
    expect(ddb.commandCalls(UpdateCommand).length).toBe(8);
  });

  it('throws, never denies or allows, when DynamoDB fails with anything but a failed condition', async () => {
    ddb.on(GetCommand).resolves({ Item: item() });
    ddb.on(UpdateCommand).rejects(new InternalServerError({ message: 'boom', $metadata: {} }));
    await expect(pipeline().authorize(request())).rejects.toThrow('boom');
  });

  it('never logs the raw key, whatever the outcome', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: undefined })
      .resolves({ Item: item({ isInactive: true }) });
    const instance = pipeline();
    await instance.authorize(request());
    await instance.authorize(request());
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(KEY);
  });
});
