/**
 * Fault injection (I6, fail closed): DynamoDB dies under load and comes back, DynamoDB
 * throttles, the JWKS is down with nothing cached, a plugin crashes or hangs. Each fault
 * must answer 500 (never 200), every request must be answered within a bound, and the
 * system must recover by itself once the fault is gone.
 */
import { SPREAD_ATTEMPTS } from '../../lambdas/core/store/growth.ts';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../lambdas/core/model/config.ts';
import { createDocumentClient, DYNAMODB_TIMEOUTS } from '../../lambdas/core/store/dynamo-client.ts';
import { GATEWAY_RESPONSES } from '../../lambdas/core/model/gateway-responses.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { keySessionPk } from '../../lambdas/core/model/keys.ts';
import type { GatepassPlugin } from '../../lambdas/core/plugins/plugin.ts';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { startDev } from '../../local/dev.ts';
import { findFreePort, startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.ts';
import { createDynamoClient, ensureTable } from '../../local/table.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { generateTestKey, jwksOf, startJwksServer, type JwksOutage } from '../support/jwks-server.ts';
import { call, gatewayWith, writeConfigFile, type Answer } from './helpers.ts';

const FAILURE_BODY = GATEWAY_RESPONSES.AUTHORIZER_FAILURE.template;

describe('DynamoDB Local killed under load', () => {
  let db: DynamoDbLocal | undefined;
  afterAll(async () => {
    await db?.stop();
  });

  it('answers 500 to every request after the crash, none hanging, and recovers once DynamoDB is back on the same port', async () => {
    const port = await findFreePort();
    db = await startDynamoDbLocal({ port });
    const tableName = 'reliability-crash';
    const dev = await startDev({
      config: writeConfigFile({ tableName }),
      port: 0,
      adminPort: 0,
      dynamodbEndpoint: db.endpoint,
      seed: false,
    });
    try {
      // An imported key, so that the same key can be recreated after the restart.
      const key = `reliability-crash-${'k'.repeat(24)}`;
      const createKey = async () => {
        const res = await fetch(`${dev.adminUrl}/keys`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key, quotaMax: 1_000_000 }),
          signal: AbortSignal.timeout(10_000),
        });
        expect(res.status).toBe(201);
      };
      await createKey();
      const url = `${dev.gatewayUrl}/pets`;

      // Load: 16 workers sending back to back. Each answer is tagged with whether the
      // request started after DynamoDB Local was known to be dead.
      const WORKERS = 16;
      const AFTER_CRASH_PER_WORKER = 8;
      const MAX_PER_WORKER = 400; // bound on count, whatever happens
      let crashed = false;
      let completed = 0;
      const before: Answer[] = [];
      const after: Answer[] = [];
      const worker = async () => {
        let afterCount = 0;
        for (let i = 0; i < MAX_PER_WORKER && afterCount < AFTER_CRASH_PER_WORKER; i++) {
          const startedAfterCrash = crashed;
          const answer = await call(url, key);
          completed += 1;
          if (startedAfterCrash) {
            after.push(answer);
            afterCount += 1;
          } else {
            before.push(answer);
          }
        }
      };
      const load = Promise.all(Array.from({ length: WORKERS }, worker));

      // Kill once the load is flowing (some requests answered), bounded by a count of polls.
      for (let i = 0; i < 200 && completed < 50; i++) await new Promise((r) => setTimeout(r, 25));
      expect(completed).toBeGreaterThanOrEqual(50);
      process.kill(db.pid, 'SIGKILL');
      await db.stop(); // resolves once the process has exited
      crashed = true;
      await load;

      const statusesBefore = new Set(before.map((a) => a.status));
      expect(statusesBefore).toContain(200);
      // Requests in flight during the crash may have been allowed or failed; none hung.
      expect([...statusesBefore].filter((s) => s !== 200 && s !== 500)).toEqual([]);
      expect(after).toHaveLength(WORKERS * AFTER_CRASH_PER_WORKER);
      expect(after.map((a) => a.status)).toEqual(after.map(() => 500));
      expect(after.every((a) => a.body === FAILURE_BODY)).toBe(true);

      // DynamoDB Local back on the same port, empty (in memory): table and key recreated.
      db = await startDynamoDbLocal({ port });
      const client = createDynamoClient(db.endpoint);
      try {
        await ensureTable(client, tableName);
      } finally {
        client.destroy();
      }
      await createKey();

      // The same gateway (not restarted) recovers: a bounded number of tries.
      let recovered: Answer | undefined;
      for (let i = 0; i < 40; i++) {
        recovered = await call(url, key);
        if (recovered.status === 200) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(recovered?.status).toBe(200);
      const next = await Promise.all(Array.from({ length: 20 }, () => call(url, key)));
      expect(next.map((a) => a.status)).toEqual(next.map(() => 200));
    } finally {
      await dev.stop();
    }
  }, 120_000);
});

describe('DynamoDB throttling', () => {
  let table: TestTable;
  let keys: KeyService;
  let store: SessionStore;
  beforeAll(async () => {
    table = await createTestTable('reliability-throttle');
    store = new SessionStore({ client: DynamoDBDocumentClient.from(table.client), tableName: table.tableName, retentionSeconds: 0 });
    keys = new KeyService(store);
  });
  afterAll(async () => {
    await table.drop();
  });

  /**
   * The authorizer's production client (`createDocumentClient`: its retry and timeout
   * settings) with throttling injected below the SDK's retry middleware, so that every
   * attempt — retries included — goes through it.
   */
  function throttledClient(shouldThrottle: (command: string, attempt: number) => boolean) {
    const client = createDocumentClient();
    const attempts: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        attempts.push(command);
        if (shouldThrottle(command, attempts.filter((c) => c === command).length)) {
          throw new ProvisionedThroughputExceededException({
            message: 'Rate of requests exceeds the allowed throughput (injected)',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'deserialize', name: 'injectThrottling' },
    );
    return { client, attempts };
  }

  it('retries a throttled call a bounded number of times, within the authorizer budget, then answers 500', async () => {
    const { key } = await keys.create({});
    const { client, attempts } = throttledClient(() => true);
    const gw = await gatewayWith({ config: parseConfig(JSON.stringify({ tableName: table.tableName })), client });
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () => call(`${gw.url}/pets`, key)));
      expect(answers.map((a) => a.status)).toEqual([500, 500, 500, 500, 500]);
      expect(answers.every((a) => a.body === FAILURE_BODY)).toBe(true);
      // The client's attempts per request (DYNAMODB_TIMEOUTS.maxAttempts): bounded, and all of
      // them the request's first command (the consistent GetItem): nothing went further.
      expect(attempts).toHaveLength(5 * DYNAMODB_TIMEOUTS.maxAttempts);
      expect(new Set(attempts).size).toBe(1);
      // The gateway saw the authorizer fail, not run past API Gateway's authorizer timeout.
      const failures = gw.gatewayLog.filter((e) => e.msg === 'authorizer failure');
      expect(failures).toHaveLength(5);
      expect(failures.every((e) => e.error === 'authorizer threw')).toBe(true);
      expect(gw.logs.lines.some((l) => l.includes('ProvisionedThroughputExceededException'))).toBe(true);
    } finally {
      await gw.close();
      client.destroy();
    }
  });

  it('allows once a retry gets through (throttled only on the first attempt)', async () => {
    const { key } = await keys.create({});
    const { client, attempts } = throttledClient((_command, attempt) => attempt === 1);
    const gw = await gatewayWith({ config: parseConfig(JSON.stringify({ tableName: table.tableName })), client });
    try {
      expect((await call(`${gw.url}/pets`, key)).status).toBe(200);
      // The first command was sent twice: once throttled, once through.
      expect(attempts[0]).toBe(attempts[1]);
    } finally {
      await gw.close();
      client.destroy();
    }
  });

  it('fails closed when every write is throttled, and consumes nothing', async () => {
    const { key, keyId } = await keys.create({ quotaMax: 10 });
    const { client, attempts } = throttledClient((command) => command === 'UpdateItemCommand');
    const gw = await gatewayWith({ config: parseConfig(JSON.stringify({ tableName: table.tableName })), client });
    try {
      const answer = await call(`${gw.url}/pets`, key);
      expect(answer).toEqual({ status: 500, body: FAILURE_BODY });
      // The client's attempts at the counting write (maxAttempts), then the bounded attempts at
      // spreading the key over counter items (its session item looked hot: tried until the decision's
      // step limit, at most SPREAD_ATTEMPTS); nothing else was written.
      const updates = attempts.filter((c) => c === 'UpdateItemCommand').length;
      expect(updates).toBeGreaterThan(DYNAMODB_TIMEOUTS.maxAttempts);
      expect(updates).toBeLessThanOrEqual(DYNAMODB_TIMEOUTS.maxAttempts + SPREAD_ATTEMPTS);
      expect(attempts.filter((c) => c !== 'UpdateItemCommand' && c !== 'GetItemCommand')).toEqual([]);
      const session = await store.get(keySessionPk(keyId));
      expect(session?.quotaUsed ?? 0).toBe(0);
      expect(session?.shards).toBeUndefined();
    } finally {
      await gw.close();
      client.destroy();
    }
  });
});

describe('JWKS down with nothing cached', () => {
  let table: TestTable;
  const issuer = 'https://issuer.reliability.invalid/';
  beforeAll(async () => {
    table = await createTestTable('reliability-jwks');
    await new PolicyStore({ client: DynamoDBDocumentClient.from(table.client), tableName: table.tableName, cacheSeconds: 0 }).put(
      'free',
      PolicyFieldsSchema.parse({ rate: 0, per: 0, quotaMax: -1, quotaRenewalRate: 0 }),
    ); // no limits, every API
  });
  afterAll(async () => {
    await table.drop();
  });

  it.each<JwksOutage>(['reset', 'unavailable', 'hang', 'invalid'])(
    'answers 500 while the JWKS server is down (%s), and 200 once it is back',
    async (outage) => {
      const jwks = await startJwksServer();
      const signing = await generateTestKey('RS256');
      jwks.setKeys(jwksOf(signing));
      jwks.down(outage);
      const config: ConfigInput = {
        tableName: table.tableName,
        jwt: {
          jwksUrl: jwks.url,
          algorithms: ['RS256'],
          issuer,
          defaultPolicies: ['free'],
          clockTolerance: 60,
          identityClaim: 'sub',
          policyClaim: 'pol',
        },
      };
      // A fresh handler: its JWKS cache is empty.
      const gw = await gatewayWith({ config: parseConfig(JSON.stringify(config)), client: DynamoDBDocumentClient.from(table.client) });
      try {
        const token = await new SignJWT({ sub: `user-${outage}` })
          .setProtectedHeader({ alg: 'RS256', kid: signing.kid })
          .setIssuer(issuer)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(signing.privateKey);
        const down = await Promise.all([1, 2, 3].map(() => call(`${gw.url}/pets`, `Bearer ${token}`)));
        expect(down).toEqual(down.map(() => ({ status: 500, body: FAILURE_BODY })));
        expect(jwks.requests()).toBeGreaterThan(0);
        expect(gw.logs.lines.some((l) => l.includes('ERR_JWKS_UNAVAILABLE') || l.includes('JwksUnavailableError'))).toBe(true);

        jwks.up();
        expect((await call(`${gw.url}/pets`, `Bearer ${token}`)).status).toBe(200);
      } finally {
        await gw.close();
        await jwks.close();
      }
    },
    30_000,
  );
});

describe('plugin crash and hang', () => {
  let table: TestTable;
  let keys: KeyService;
  let store: SessionStore;
  beforeAll(async () => {
    table = await createTestTable('reliability-plugins');
    store = new SessionStore({ client: DynamoDBDocumentClient.from(table.client), tableName: table.tableName, retentionSeconds: 0 });
    keys = new KeyService(store);
  });
  afterAll(async () => {
    await table.drop();
  });

  const never = () => new Promise<never>(() => undefined);
  const cases: Array<[string, GatepassPlugin]> = [
    [
      'pre throws',
      {
        name: 'crash-pre',
        pre: () => {
          throw new Error('boom');
        },
      },
    ],
    ['auth rejects', { name: 'crash-auth', auth: () => Promise.reject(new Error('boom')) }],
    [
      'postAuth throws a string',
      {
        name: 'crash-post-auth',
        postAuth: () => {
          throw 'boom';
        },
      },
    ],
    [
      'post throws',
      {
        name: 'crash-post',
        post: () => {
          throw new TypeError('boom');
        },
      },
    ],
    ['pre hangs', { name: 'hang-pre', pre: never }],
    ['auth hangs', { name: 'hang-auth', auth: never }],
    ['postAuth hangs', { name: 'hang-post-auth', postAuth: never }],
    ['post hangs', { name: 'hang-post', post: never }],
    ['postAuth answers garbage', { name: 'garbage-post-auth', postAuth: () => ({ deny: 'nope' }) as never }],
  ];

  it.each(cases)("answers 500 when a plugin's %s, and logs the plugin's name", async (_name, plugin) => {
    const { key } = await keys.create({ quotaMax: 100 });
    const gw = await gatewayWith({
      config: parseConfig(JSON.stringify({ tableName: table.tableName, hookTimeoutMs: 200 })),
      client: DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } }),
      plugins: [plugin],
    });
    try {
      const answers = await Promise.all([1, 2, 3].map(() => call(`${gw.url}/pets`, key)));
      expect(answers).toEqual(answers.map(() => ({ status: 500, body: FAILURE_BODY })));
      const errors = gw.logs.lines.filter((l) => l.includes('"level":"ERROR"'));
      expect(errors.some((l) => l.includes(`"plugin":"${plugin.name}"`) || l.includes(`plugin ${plugin.name}:`))).toBe(true);
    } finally {
      await gw.close();
    }
  });
});
