import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../lambdas/core/config.ts';
import type { Decision } from '../../../lambdas/core/decision.ts';
import { keyIdOf } from '../../../lambdas/core/keys.ts';
import type { Log } from '../../../lambdas/core/log.ts';
import { Pipeline, type AuthRequest } from '../../../lambdas/core/pipeline.ts';
import { SessionStore, type StoredSession } from '../../../lambdas/core/store.ts';

const NOW = 1_700_000_000;
const NOW_MS = NOW * 1000;
const TABLE = 'sessions-test';
const KEY = 'gp_Wk3v9cQ7h2LxR0aZ5mN8pT1yB4dF6gJ0sU3eO7iK2qA';
const KEY_ID = keyIdOf(KEY);
const PK = `key#${KEY_ID}`;

/** Records every log call, to check what reaches the logs. */
class RecordingLog implements Log {
  readonly entries: { level: string; message: string; extra: Record<string, unknown>[] }[] = [];
  debug(message: string, ...extra: Record<string, unknown>[]): void {
    this.entries.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: Record<string, unknown>[]): void {
    this.entries.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.entries.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.entries.push({ level: 'error', message, extra });
  }
  text(): string {
    return JSON.stringify(this.entries);
  }
}

/** A stored session with no limits, active and never expiring, overridable field by field. */
function storedSession(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    pk: PK,
    keyId: KEY_ID,
    expires: 0,
    quotaMax: -1,
    quotaRemaining: -1,
    quotaRenewalRate: 0,
    quotaRenews: 0,
    rate: 0,
    per: 0,
    accessRights: {},
    applyPolicies: [],
    metaData: {},
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
    path: '/pets/42',
    headers: { authorization: KEY },
    query: {},
    sourceIp: '203.0.113.9',
    ...overrides,
  };
}

/** The exception DynamoDB answers a failed condition with: the old item in raw AttributeValue form. */
function conditionFailed(old?: StoredSession): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(old ? { Item: marshall(old) } : {}),
  });
}

function reasonOf(decision: Decision): string | undefined {
  return decision.allow ? undefined : decision.reason;
}

/** DynamoDB rejects an expression attribute name or value that no expression uses. */
function unusedPlaceholders(input: {
  UpdateExpression?: string | undefined;
  ConditionExpression?: string | undefined;
  ExpressionAttributeNames?: Record<string, string> | undefined;
  ExpressionAttributeValues?: Record<string, unknown> | undefined;
}): string[] {
  const expressions = `${input.UpdateExpression ?? ''} ${input.ConditionExpression ?? ''}`;
  const used = new Set(expressions.match(/[#:][A-Za-z0-9_]+/g) ?? []);
  return [...Object.keys(input.ExpressionAttributeNames ?? {}), ...Object.keys(input.ExpressionAttributeValues ?? {})].filter(
    (placeholder) => !used.has(placeholder),
  );
}

const ddb = mockClient(DynamoDBDocumentClient);

describe('Pipeline.authorize', () => {
  let log: RecordingLog;
  let pipeline: Pipeline;

  beforeEach(() => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    log = new RecordingLog();
    pipeline = new Pipeline({
      config: ConfigSchema.parse({ tableName: TABLE }),
      store: new SessionStore({ client, tableName: TABLE, retentionSeconds: 60 }),
      log,
      clock: () => NOW_MS,
    });
  });

  afterEach(() => {
    ddb.reset();
  });

  function givenSession(session: StoredSession | undefined): void {
    ddb.on(GetCommand).resolves(session ? { Item: session } : {});
  }

  describe('credential', () => {
    it('denies missing_credential without a look-up when the header is absent', async () => {
      const decision = await pipeline.authorize(request({ headers: {} }));

      expect(reasonOf(decision)).toBe('missing_credential');
      expect(decision.context).toMatchObject({ reason: 'missing_credential', message: 'Authorization field missing' });
      expect(ddb.calls()).toHaveLength(0);
    });

    it('denies key_not_found without a look-up for a malformed credential', async () => {
      const decision = await pipeline.authorize(request({ headers: { authorization: 'x'.repeat(12 * 1024) } }));

      expect(reasonOf(decision)).toBe('key_not_found');
      expect(ddb.calls()).toHaveLength(0);
    });

    it('denies key_not_found when no session exists for the key', async () => {
      givenSession(undefined);

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('key_not_found');
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    });

    it('reads a Bearer key the same way as a raw key', async () => {
      givenSession(storedSession());

      const decision = await pipeline.authorize(request({ headers: { authorization: `Bearer ${KEY}` } }));

      expect(decision.allow).toBe(true);
    });
  });

  describe('session read', () => {
    it('reads the session by the key hash with a strongly consistent GetItem', async () => {
      givenSession(storedSession());

      await pipeline.authorize(request());

      const gets = ddb.commandCalls(GetCommand);
      expect(gets).toHaveLength(1);
      expect(gets[0]!.args[0].input).toEqual({ TableName: TABLE, Key: { pk: PK }, ConsistentRead: true });
    });
  });

  describe('checks', () => {
    it('denies key_inactive, naming the key as principal', async () => {
      givenSession(storedSession({ isInactive: true }));

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: false, reason: 'key_inactive', principalId: KEY_ID });
    });

    it('denies session_expired when expires == now', async () => {
      givenSession(storedSession({ expires: NOW }));

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: false, reason: 'session_expired', message: 'Key has expired, please renew' });
      expect(decision.context).toMatchObject({ reason: 'session_expired', message: 'Key has expired, please renew', expires: NOW });
    });

    it('allows when expires == now + 1', async () => {
      givenSession(storedSession({ expires: NOW + 1 }));

      const decision = await pipeline.authorize(request());

      expect(decision.allow).toBe(true);
    });

    it('denies api_not_allowed for an API the session does not list', async () => {
      givenSession(storedSession({ accessRights: { otherApi: {} } }));

      expect(reasonOf(await pipeline.authorize(request()))).toBe('api_not_allowed');
    });

    it('denies url_not_allowed for a path and method the session does not allow', async () => {
      givenSession(storedSession({ accessRights: { api1: { allowedUrls: [{ url: '/pets/[0-9]+', methods: ['POST'] }] } } }));

      expect(reasonOf(await pipeline.authorize(request()))).toBe('url_not_allowed');
    });

    it('denies before consuming: a failed check sends no UpdateItem', async () => {
      givenSession(storedSession({ isInactive: true, quotaMax: 10, quotaRemaining: 10, quotaRenewalRate: 60, quotaRenews: NOW + 60 }));

      await pipeline.authorize(request());

      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    });
  });

  describe('rate limit and quota', () => {
    it('denies rate_limited with retryAfter in the context and writes nothing', async () => {
      givenSession(storedSession({ rate: 2, per: 10, rateRemaining: 0, rateResetsAt: NOW_MS + 2500 }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('rate_limited');
      expect(decision.context).toMatchObject({ reason: 'rate_limited', retryAfter: 3 });
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    });

    it('denies quota_exceeded with quotaRenews in the context and writes nothing', async () => {
      givenSession(storedSession({ quotaMax: 5, quotaRemaining: 0, quotaRenewalRate: 3600, quotaRenews: NOW + 60 }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('quota_exceeded');
      expect(decision.context).toMatchObject({ reason: 'quota_exceeded', quotaRenews: NOW + 60 });
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    });

    it('consumes with one conditional UpdateItem that returns ALL_NEW, and ALL_OLD on failure', async () => {
      const session = storedSession({ quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 3600, quotaRenews: NOW + 60 });
      givenSession(session);
      ddb.on(UpdateCommand).resolves({ Attributes: { ...session, quotaRemaining: 4 } });

      await pipeline.authorize(request());

      const updates = ddb.commandCalls(UpdateCommand);
      expect(updates).toHaveLength(1);
      const input = updates[0]!.args[0].input;
      expect(input).toMatchObject({
        TableName: TABLE,
        Key: { pk: PK },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      expect(input.ConditionExpression).toEqual(expect.stringContaining('#version = :version'));
      expect(input.ExpressionAttributeValues).toMatchObject({ ':version': 3 });
    });

    const consumptions: [string, Partial<StoredSession>][] = [
      ['opens a rate window and takes from the quota', { rate: 5, per: 10, quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 60, quotaRenews: NOW + 60 }],
      ['takes from the rate window and opens a quota window', { rate: 5, per: 10, rateRemaining: 2, rateResetsAt: NOW_MS + 1000, quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 60, quotaRenews: NOW }],
      ['only takes from the quota', { quotaMax: 10, quotaRemaining: 5 }],
      ['only opens a rate window', { rate: 5, per: 10 }],
      ['only takes from the rate window', { rate: 5, per: 10, rateRemaining: 2, rateResetsAt: NOW_MS + 1000 }],
      ['only opens a quota window', { quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 60, quotaRenews: NOW - 5 }],
    ];

    it.each(consumptions)('uses every expression name and value it sends when it %s', async (_name, overrides) => {
      const session = storedSession(overrides);
      givenSession(session);
      ddb.on(UpdateCommand).resolves({ Attributes: session });

      await pipeline.authorize(request());

      const updates = ddb.commandCalls(UpdateCommand);
      expect(updates).toHaveLength(1);
      expect(unusedPlaceholders(updates[0]!.args[0].input)).toEqual([]);
    });

    it('allows with the whole context: key, alias, quota, expiry, rate and meta_* entries', async () => {
      const session = storedSession({
        alias: 'mobile-app',
        expires: NOW + 3600,
        quotaMax: 10,
        quotaRemaining: 5,
        quotaRenewalRate: 3600,
        quotaRenews: NOW + 60,
        rate: 5,
        per: 10,
        metaData: { plan: 'gold', seats: 3, beta: true },
      });
      givenSession(session);
      ddb.on(UpdateCommand).resolves({
        Attributes: { ...session, quotaRemaining: 4, rateRemaining: 4, rateResetsAt: NOW_MS + 10_000 },
      });

      const decision = await pipeline.authorize(request());

      expect(decision).toEqual({
        allow: true,
        principalId: KEY_ID,
        context: {
          keyId: KEY_ID,
          alias: 'mobile-app',
          quotaRemaining: 4,
          quotaMax: 10,
          quotaRenews: NOW + 60,
          expires: NOW + 3600,
          rateLimit: 5,
          rateRemaining: 4,
          meta_plan: 'gold',
          meta_seats: 3,
          meta_beta: true,
        },
      });
    });

    it('allows an unlimited session without any UpdateItem', async () => {
      givenSession(storedSession());

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: true, context: { quotaRemaining: -1, quotaMax: -1, rateRemaining: -1, rateLimit: 0 } });
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    });
  });

  describe('a conditional write that fails', () => {
    const consumable = storedSession({ quotaMax: 10, quotaRemaining: 1, quotaRenewalRate: 3600, quotaRenews: NOW + 60 });

    it('re-checks the item returned with the failure, without a second GetItem (quota now 0)', async () => {
      givenSession(consumable);
      ddb.on(UpdateCommand).rejects(conditionFailed({ ...consumable, quotaRemaining: 0 }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('quota_exceeded');
      expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    });

    it('re-checks a newer version of the session that is now inactive', async () => {
      givenSession(consumable);
      ddb.on(UpdateCommand).rejects(conditionFailed({ ...consumable, version: 4, isInactive: true }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('key_inactive');
      expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    });

    it('retries the write against the version it was given back', async () => {
      givenSession(consumable);
      const newer = { ...consumable, version: 4, quotaRemaining: 3 };
      ddb
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed(newer))
        .resolves({ Attributes: { ...newer, quotaRemaining: 2 } });

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: true, context: { quotaRemaining: 2 } });
      const updates = ddb.commandCalls(UpdateCommand);
      expect(updates).toHaveLength(2);
      expect(updates[1]!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':version': 4 });
      expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    });

    it('denies key_not_found when the session was deleted meanwhile (no old item)', async () => {
      givenSession(consumable);
      ddb.on(UpdateCommand).rejects(conditionFailed(undefined));

      expect(reasonOf(await pipeline.authorize(request()))).toBe('key_not_found');
    });

    it('fails closed with a contention error after a bounded number of lost writes', async () => {
      givenSession(consumable);
      ddb.on(UpdateCommand).rejects(conditionFailed(consumable));

      await expect(pipeline.authorize(request())).rejects.toMatchObject({ code: 'ERR_CONTENTION' });
      expect(ddb.commandCalls(UpdateCommand).length).toBeGreaterThan(1);
      expect(ddb.commandCalls(UpdateCommand).length).toBeLessThanOrEqual(10);
    });
  });

  describe('faults', () => {
    it('throws when GetItem fails, instead of answering a denial', async () => {
      ddb.on(GetCommand).rejects(new Error('ProvisionedThroughputExceededException'));

      await expect(pipeline.authorize(request())).rejects.toThrow();
    });

    it('throws when UpdateItem fails with anything but a failed condition', async () => {
      givenSession(storedSession({ quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 3600, quotaRenews: NOW + 60 }));
      ddb.on(UpdateCommand).rejects(new Error('InternalServerError'));

      await expect(pipeline.authorize(request())).rejects.toThrow();
    });
  });

  describe('logs', () => {
    it('never contain the raw key, whatever the outcome', async () => {
      ddb.on(GetCommand).resolvesOnce({}).resolvesOnce({ Item: storedSession({ isInactive: true }) }).resolves({ Item: storedSession() });

      await pipeline.authorize(request());
      await pipeline.authorize(request());
      await pipeline.authorize(request({ headers: { authorization: `Bearer ${KEY}` } }));
      await pipeline.authorize(request({ headers: { authorization: `${KEY}\u00e9` } }));

      expect(log.entries.length).toBeGreaterThan(0);
      expect(log.text()).not.toContain(KEY);
      expect(log.text()).not.toContain(KEY.slice(0, 20));
    });
  });
});
