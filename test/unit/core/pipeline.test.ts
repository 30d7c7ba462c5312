import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../lambdas/core/model/config.ts';
import type { Decision } from '../../../lambdas/core/request/decision.ts';
import { keyIdOf } from '../../../lambdas/core/model/keys.ts';
import type { Limits } from '../../../lambdas/core/limits/limits.ts';
import type { Log } from '../../../lambdas/core/model/log.ts';
import { Pipeline, type AuthRequest } from '../../../lambdas/core/request/pipeline.ts';
import type { GatepassPlugin } from '../../../lambdas/core/plugins/plugin.ts';
import { SessionStore } from '../../../lambdas/core/store/store.ts';
import type { StoredSession } from '../../../lambdas/core/store/item.ts';
import { conditionFailed, takeOne } from '../../support/dynamo-doubles.ts';

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

function ownLimits(session: StoredSession): Limits {
  return { rate: session.rate, per: session.per, quotaMax: session.quotaMax, quotaRenewalRate: session.quotaRenewalRate };
}

/** The session as a consumption write leaves it: its own limits recorded, the fast path armed. */
function armed(session: StoredSession): StoredSession {
  return { ...session, armedUntil: NOW + 3600, armedLimits: ownLimits(session), rateRemaining: session.rateRemaining ?? 0 };
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

/** The fast path's UpdateItem is the only one guarded on `armedUntil`. */
function isFastWrite(input: UpdateCommandInput): boolean {
  return (input.ConditionExpression ?? '').includes('#au > :now');
}

/** A consumption write of the full path is guarded on the version it was checked against. */
function isConsumeWrite(input: UpdateCommandInput): boolean {
  return (input.ConditionExpression ?? '').includes('#version = :version');
}

const ddb = mockClient(DynamoDBDocumentClient);

describe('Pipeline.authorize', () => {
  let log: RecordingLog;
  let pipeline: Pipeline;
  let store: SessionStore;

  beforeEach(() => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    log = new RecordingLog();
    store = new SessionStore({ client, tableName: TABLE, retentionSeconds: 60 });
    pipeline = new Pipeline({ config: ConfigSchema.parse({ tableName: TABLE }), store, log, clock: () => NOW_MS });
  });

  afterEach(() => {
    ddb.reset();
  });

  /**
   * A session the fast write cannot take from (not armed, or one of its guards fails): the
   * fast UpdateItem fails and returns the item; the consumption write then answers `after`.
   */
  function givenUnarmed(session: StoredSession, after: StoredSession = session): void {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed(session)).resolves({ Attributes: after });
  }

  /** An armed session whose guards hold: the fast UpdateItem succeeds; returns the item it answers. */
  function givenArmed(session: StoredSession): StoredSession {
    const taken = takeOne(armed(session));
    ddb.on(UpdateCommand).resolves({ Attributes: taken });
    return taken;
  }

  function updates(): UpdateCommandInput[] {
    return ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
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

    it('denies key_not_found when the fast write finds no session, and writes nothing else', async () => {
      ddb.on(UpdateCommand).rejects(conditionFailed(undefined));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('key_not_found');
      expect(ddb.calls()).toHaveLength(1);
      expect(isFastWrite(updates()[0]!)).toBe(true);
    });

    it('reads a Bearer key the same way as a raw key', async () => {
      givenArmed(storedSession());

      const decision = await pipeline.authorize(request({ headers: { authorization: `Bearer ${KEY}` } }));

      expect(decision).toMatchObject({ allow: true, principalId: KEY_ID });
      expect(updates()[0]!.Key).toEqual({ pk: PK });
    });
  });

  describe('session look-up', () => {
    it('addresses the session by the key hash in the fast UpdateItem, without a GetItem', async () => {
      givenArmed(storedSession());

      await pipeline.authorize(request());

      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
      expect(updates()).toHaveLength(1);
      expect(updates()[0]).toMatchObject({ TableName: TABLE, Key: { pk: PK } });
      expect(isFastWrite(updates()[0]!)).toBe(true);
    });

    it('reads the session by the key hash with a strongly consistent GetItem when a postAuth hook needs it', async () => {
      const postAuth: GatepassPlugin = { name: 'looker', postAuth: () => undefined };
      pipeline = new Pipeline({ config: ConfigSchema.parse({ tableName: TABLE }), store, log, clock: () => NOW_MS, plugins: [postAuth] });
      ddb.on(GetCommand).resolves({ Item: storedSession() });
      ddb.on(UpdateCommand).resolves({ Attributes: armed(storedSession()) });

      await pipeline.authorize(request());

      const gets = ddb.commandCalls(GetCommand);
      expect(gets).toHaveLength(1);
      expect(gets[0]!.args[0].input).toEqual({ TableName: TABLE, Key: { pk: PK }, ConsistentRead: true });
    });
  });

  describe('checks', () => {
    it('denies key_inactive, naming the key as principal', async () => {
      givenUnarmed(storedSession({ isInactive: true }));

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: false, reason: 'key_inactive', principalId: KEY_ID });
    });

    it('denies session_expired when expires == now', async () => {
      givenUnarmed(storedSession({ expires: NOW }));

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: false, reason: 'session_expired', message: 'Key has expired, please renew' });
      expect(decision.context).toMatchObject({ reason: 'session_expired', message: 'Key has expired, please renew', expires: NOW });
    });

    it('allows when expires == now + 1', async () => {
      givenUnarmed(storedSession({ expires: NOW + 1 }));

      const decision = await pipeline.authorize(request());

      expect(decision.allow).toBe(true);
    });

    it('denies api_not_allowed for an API the session does not list', async () => {
      givenUnarmed(storedSession({ accessRights: { otherApi: {} } }));

      expect(reasonOf(await pipeline.authorize(request()))).toBe('api_not_allowed');
    });

    it('denies url_not_allowed for a path and method the session does not allow', async () => {
      givenUnarmed(storedSession({ accessRights: { api1: { allowedUrls: [{ url: '/pets/[0-9]+', methods: ['POST'] }] } } }));

      expect(reasonOf(await pipeline.authorize(request()))).toBe('url_not_allowed');
    });

    it('denies before consuming: a failed check sends no UpdateItem after the failed fast one', async () => {
      givenUnarmed(storedSession({ isInactive: true, quotaMax: 10, quotaRemaining: 10, quotaRenewalRate: 60, quotaRenews: NOW + 60 }));

      await pipeline.authorize(request());

      expect(updates()).toHaveLength(1);
      expect(isFastWrite(updates()[0]!)).toBe(true);
      expect(ddb.calls()).toHaveLength(1);
    });

    it('checks access rights on the item the fast write returns, and gives the request back when they deny', async () => {
      givenArmed(storedSession({ accessRights: { otherApi: {} } }));

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: false, reason: 'api_not_allowed', principalId: KEY_ID });
      expect(updates()).toHaveLength(2);
      expect(updates()[1]!.UpdateExpression).toBe('SET #rr = #rr + :one, #qr = #qr + :one');
    });
  });

  describe('rate limit and quota', () => {
    it('denies rate_limited with retryAfter in the context and writes nothing after the failed fast write', async () => {
      givenUnarmed(storedSession({ rate: 2, per: 10, rateRemaining: 0, rateResetsAt: NOW_MS + 2500 }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('rate_limited');
      expect(decision.context).toMatchObject({ reason: 'rate_limited', retryAfter: 3 });
      expect(updates()).toHaveLength(1);
      expect(isFastWrite(updates()[0]!)).toBe(true);
    });

    it('denies quota_exceeded with quotaRenews in the context and writes nothing after the failed fast write', async () => {
      givenUnarmed(storedSession({ quotaMax: 5, quotaRemaining: 0, quotaRenewalRate: 3600, quotaRenews: NOW + 60 }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('quota_exceeded');
      expect(decision.context).toMatchObject({ reason: 'quota_exceeded', quotaRenews: NOW + 60 });
      expect(updates()).toHaveLength(1);
      expect(isFastWrite(updates()[0]!)).toBe(true);
    });

    it('consumes with one conditional UpdateItem that returns ALL_NEW, and ALL_OLD on failure', async () => {
      givenArmed(storedSession({ quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 3600, quotaRenews: NOW + 60 }));

      await pipeline.authorize(request());

      expect(updates()).toHaveLength(1);
      expect(updates()[0]).toMatchObject({
        TableName: TABLE,
        Key: { pk: PK },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    });

    it('after a failed fast write, consumes with a second conditional UpdateItem guarded on the version returned', async () => {
      givenUnarmed(storedSession({ quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 3600, quotaRenews: NOW + 60 }));

      await pipeline.authorize(request());

      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
      expect(updates()).toHaveLength(2);
      const consume = updates()[1]!;
      expect(consume).toMatchObject({
        TableName: TABLE,
        Key: { pk: PK },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      expect(consume.ConditionExpression).toEqual(expect.stringContaining('#version = :version'));
      expect(consume.ExpressionAttributeValues).toMatchObject({ ':version': 3 });
    });

    const consumptions: [string, Partial<StoredSession>][] = [
      ['opens a rate window and takes from the quota', { rate: 5, per: 10, quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 60, quotaRenews: NOW + 60 }],
      ['takes from the rate window and opens a quota window', { rate: 5, per: 10, rateRemaining: 2, rateResetsAt: NOW_MS + 1000, quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 60, quotaRenews: NOW }],
      ['only takes from the quota', { quotaMax: 10, quotaRemaining: 5 }],
      ['only opens a rate window', { rate: 5, per: 10 }],
      ['only takes from the rate window', { rate: 5, per: 10, rateRemaining: 2, rateResetsAt: NOW_MS + 1000 }],
      ['only opens a quota window', { quotaMax: 10, quotaRemaining: 0, quotaRenewalRate: 60, quotaRenews: NOW - 5 }],
      ['consumes nothing but records the limits (unlimited)', {}],
      ['reopens an open rate window for new limits', { rate: 5, per: 10, rateRemaining: 2, rateResetsAt: NOW_MS + 1000, armedLimits: { rate: 9, per: 10, quotaMax: -1, quotaRenewalRate: 0 } }],
      ['opens a first rate window for new limits', { rate: 5, per: 10, armedLimits: { rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 } }],
      ['reopens an open quota window for new limits', { quotaMax: 10, quotaRemaining: 3, quotaRenewalRate: 60, quotaRenews: NOW + 30, armedLimits: { rate: 0, per: 0, quotaMax: 20, quotaRenewalRate: 60 } }],
    ];

    it.each(consumptions)('uses every expression name and value it sends when it %s', async (_name, overrides) => {
      const session = storedSession(overrides);
      givenUnarmed(session);

      await pipeline.authorize(request());

      expect(updates()).toHaveLength(2);
      for (const input of updates()) expect(unusedPlaceholders(input)).toEqual([]);
    });

    const paths: [string, (session: StoredSession) => StoredSession][] = [
      ['on the fast path', (session) => givenArmed(session)],
      [
        'after a failed fast write',
        (session) => {
          const written = armed({ ...session, quotaRemaining: 4, rateRemaining: 4, rateResetsAt: NOW_MS + 10_000 });
          givenUnarmed(session, written);
          return written;
        },
      ],
    ];

    it.each(paths)('allows with the whole context: key, alias, quota, expiry, rate and meta_* entries (%s)', async (_name, given) => {
      const session = storedSession({
        alias: 'mobile-app',
        expires: NOW + 3600,
        quotaMax: 10,
        quotaRemaining: 5,
        quotaRenewalRate: 3600,
        quotaRenews: NOW + 60,
        rate: 5,
        per: 10,
        rateRemaining: 5,
        rateResetsAt: NOW_MS + 10_000,
        metaData: { plan: 'gold', seats: 3, beta: true },
      });
      given(session);

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

    it('allows an armed unlimited session with one fast UpdateItem and the unlimited context', async () => {
      givenArmed(storedSession());

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: true, context: { quotaRemaining: -1, quotaMax: -1, rateRemaining: -1, rateLimit: 0 } });
      expect(ddb.calls()).toHaveLength(1);
      expect(isFastWrite(updates()[0]!)).toBe(true);
    });

    it('arms an unarmed unlimited session with a consumption write that takes nothing', async () => {
      givenUnarmed(storedSession(), armed(storedSession()));

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: true, context: { quotaRemaining: -1, rateRemaining: -1 } });
      expect(updates()).toHaveLength(2);
      const consume = updates()[1]!;
      expect(consume.UpdateExpression).not.toMatch(/#qr = |#rra = /);
      expect(consume.ExpressionAttributeValues).toMatchObject({ ':armedLimits': ownLimits(storedSession()) });
    });

    it('allows an armed unlimited session without any UpdateItem when a postAuth hook made it read the session', async () => {
      const postAuth: GatepassPlugin = { name: 'looker', postAuth: () => undefined };
      pipeline = new Pipeline({ config: ConfigSchema.parse({ tableName: TABLE }), store, log, clock: () => NOW_MS, plugins: [postAuth] });
      ddb.on(GetCommand).resolves({ Item: { ...armed(storedSession()), armedUntil: NOW + 365 * 86_400 } });

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: true, context: { quotaRemaining: -1, quotaMax: -1, rateRemaining: -1, rateLimit: 0 } });
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    });
  });

  describe('a conditional consumption write that fails', () => {
    const consumable = storedSession({ quotaMax: 10, quotaRemaining: 1, quotaRenewalRate: 3600, quotaRenews: NOW + 60 });

    it('re-checks the item returned with the failure, without a GetItem (quota now 0)', async () => {
      ddb
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed(consumable))
        .rejectsOnce(conditionFailed({ ...consumable, quotaRemaining: 0 }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('quota_exceeded');
      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
      expect(updates()).toHaveLength(2);
    });

    it('re-checks a newer version of the session that is now inactive', async () => {
      ddb
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed(consumable))
        .rejectsOnce(conditionFailed({ ...consumable, version: 4, isInactive: true }));

      const decision = await pipeline.authorize(request());

      expect(reasonOf(decision)).toBe('key_inactive');
      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
      expect(updates()).toHaveLength(2);
    });

    it('retries the write against the version it was given back', async () => {
      const newer = { ...consumable, version: 4, quotaRemaining: 3 };
      ddb
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed(consumable))
        .rejectsOnce(conditionFailed(newer))
        .resolves({ Attributes: { ...newer, quotaRemaining: 2 } });

      const decision = await pipeline.authorize(request());

      expect(decision).toMatchObject({ allow: true, context: { quotaRemaining: 2 } });
      expect(updates()).toHaveLength(3);
      expect(updates().slice(1).every(isConsumeWrite)).toBe(true);
      expect(updates()[1]!.ExpressionAttributeValues).toMatchObject({ ':version': 3 });
      expect(updates()[2]!.ExpressionAttributeValues).toMatchObject({ ':version': 4 });
      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    });

    it('denies key_not_found when the session was deleted meanwhile (no old item)', async () => {
      ddb.on(UpdateCommand).rejectsOnce(conditionFailed(consumable)).rejects(conditionFailed(undefined));

      expect(reasonOf(await pipeline.authorize(request()))).toBe('key_not_found');
      expect(updates()).toHaveLength(2);
    });

    it('fails closed with a contention error after a bounded number of lost writes', async () => {
      ddb.on(UpdateCommand).rejects(conditionFailed(consumable));

      await expect(pipeline.authorize(request())).rejects.toMatchObject({ code: 'ERR_CONTENTION' });
      expect(updates().filter(isConsumeWrite).length).toBeGreaterThan(1);
      expect(updates().length).toBeLessThanOrEqual(10);
    });
  });

  describe('faults', () => {
    it('throws when the fast UpdateItem fails with anything but a failed condition, instead of answering a denial', async () => {
      ddb.on(UpdateCommand).rejects(new Error('ProvisionedThroughputExceededException'));

      await expect(pipeline.authorize(request())).rejects.toThrow('ProvisionedThroughputExceededException');
    });

    it('throws when GetItem fails on the postAuth path', async () => {
      const postAuth: GatepassPlugin = { name: 'looker', postAuth: () => undefined };
      pipeline = new Pipeline({ config: ConfigSchema.parse({ tableName: TABLE }), store, log, clock: () => NOW_MS, plugins: [postAuth] });
      ddb.on(GetCommand).rejects(new Error('ProvisionedThroughputExceededException'));

      await expect(pipeline.authorize(request())).rejects.toThrow('ProvisionedThroughputExceededException');
    });

    it('throws when the consumption UpdateItem fails with anything but a failed condition', async () => {
      ddb
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed(storedSession({ quotaMax: 10, quotaRemaining: 5, quotaRenewalRate: 3600, quotaRenews: NOW + 60 })))
        .rejects(new Error('InternalServerError'));

      await expect(pipeline.authorize(request())).rejects.toThrow('InternalServerError');
      expect(updates()).toHaveLength(2);
    });
  });

  describe('logs', () => {
    it('never contain the raw key, whatever the outcome', async () => {
      ddb
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed(undefined))
        .rejectsOnce(conditionFailed(storedSession({ isInactive: true })))
        .rejectsOnce(conditionFailed(storedSession()))
        .resolves({ Attributes: armed(storedSession()) });

      const outcomes = [
        await pipeline.authorize(request()),
        await pipeline.authorize(request()),
        await pipeline.authorize(request({ headers: { authorization: `Bearer ${KEY}` } })),
        await pipeline.authorize(request({ headers: { authorization: `${KEY}\u00e9` } })),
      ].map((decision) => reasonOf(decision) ?? 'allowed');

      expect(outcomes.slice(0, 3)).toEqual(['key_not_found', 'key_inactive', 'allowed']);
      expect(log.entries.length).toBeGreaterThan(0);
      expect(log.text()).not.toContain(KEY);
      expect(log.text()).not.toContain(KEY.slice(0, 20));
      expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    });
  });
});
