/**
 * Soak: 10,000 authorizations through the real handler, 100 in flight, over a mix of keys
 * (no limits, large and small quotas, rate limits, unknown keys), while two admin loops
 * PATCH aliases and metaData through the admin handler. Afterwards the stored counters must
 * equal the allowed requests exactly (nothing lost, nothing counted twice, I5), and no
 * captured log line may hold a raw key (I7).
 *
 * The authorizer's clock is frozen, so that no window rolls over: every counter then
 * has one exact expected value.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminHandler } from '../../lambdas/admin/handler.ts';
import { createAuthorizerHandler } from '../../lambdas/authorizer/handler.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { generateKey, keySessionPk, maskKey } from '../../lambdas/core/model/keys.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import type { StoredSession } from '../../lambdas/core/store/item.ts';
import { buildRequestAuthorizerEvent } from '../../local/authorizer-event.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { capturingLogger, type CapturedLogger } from './helpers.ts';

const TOTAL = 10_000;
const IN_FLIGHT = 100;
/** The soak gives up (and fails) past this, whatever happens. */
const SOAK_DEADLINE_MS = 240_000;
const MAX_ADMIN_UPDATES_PER_LOOP = 2_000;
/**
 * Each invocation's Lambda timeout (middy aborts past it). Generous: this test checks
 * exact counting, not latency, and a loaded 2-core machine can queue 100 requests for
 * seconds; the gateway tests hold API Gateway's 10 s bound.
 */
const INVOCATION_TIMEOUT_MS = 60_000;

type Kind = 'unlimited' | 'bigQuota' | 'rateQuota' | 'smallQuota' | 'smallRate' | 'unknown';
const SESSION_OF: Record<Exclude<Kind, 'unknown'>, Record<string, unknown>> = {
  unlimited: {},
  bigQuota: { quotaMax: 1_000_000 },
  rateQuota: { rate: 1_000_000, per: 3600, quotaMax: 1_000_000 },
  smallQuota: { quotaMax: 150 },
  smallRate: { rate: 120, per: 3600 },
};
const MIX: Kind[] = [
  'unlimited',
  'unlimited',
  'unlimited',
  'bigQuota',
  'bigQuota',
  'bigQuota',
  'rateQuota',
  'rateQuota',
  'rateQuota',
  'smallQuota',
  'smallQuota',
  'smallRate',
  'smallRate',
  'unknown',
  'unknown',
];

interface SoakKey {
  readonly kind: Kind;
  readonly key: string;
  readonly keyId?: string;
  sent: number;
  allowed: number;
  denied: Map<string, number>;
  /** What the last successful admin PATCH set. */
  lastPatch?: { alias: string; round: number };
}

interface SoakResult {
  readonly keys: SoakKey[];
  readonly faults: string[];
  readonly decisions: number;
  readonly adminUpdates: number;
  readonly adminFailures: string[];
  readonly stored: Map<string, StoredSession>;
  readonly logs: CapturedLogger;
  readonly adminLogs: CapturedLogger;
}

describe(`soak: ${TOTAL} authorizations with concurrent admin updates`, () => {
  let table: TestTable;
  let result: SoakResult;

  beforeAll(async () => {
    table = await createTestTable('reliability-soak');
    const doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    const config = parseConfig(JSON.stringify({ tableName: table.tableName }));
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: config.sessionRetentionSeconds });
    const service = new KeyService(store);
    const frozenMs = Date.now();

    const logs = capturingLogger('gatepass-authorizer');
    const adminLogs = capturingLogger('gatepass-admin');
    const handler = createAuthorizerHandler({ config, client: doc, logger: logs.logger, clock: () => frozenMs, plugins: [] });
    // In process (as the Function URL would invoke it), with the same long invocation timeout.
    const adminHandler = createAdminHandler({ config, client: doc, logger: adminLogs.logger });

    const keys: SoakKey[] = [];
    for (const kind of MIX) {
      if (kind === 'unknown') {
        keys.push({ kind, key: generateKey(), sent: 0, allowed: 0, denied: new Map() });
      } else {
        const created = await service.create(SESSION_OF[kind]);
        keys.push({ kind, key: created.key, keyId: created.keyId, sent: 0, allowed: 0, denied: new Map() });
      }
    }

    const started = Date.now();
    const faults: string[] = [];
    let next = 0;
    let decisions = 0;
    let done = false;
    const authorize = async () => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL || Date.now() - started > SOAK_DEADLINE_MS) return;
        const k = keys[(i * 7) % keys.length]!;
        k.sent += 1;
        const event = buildRequestAuthorizerEvent({
          method: i % 3 === 0 ? 'POST' : 'GET',
          path: `/items/${i % 50}`,
          headers: { Authorization: i % 2 === 0 ? k.key : `Bearer ${k.key}` },
          query: new URLSearchParams(),
          sourceIp: '127.0.0.1',
          apiId: 'soak',
          stage: 'prod',
        });
        try {
          const answer = (await handler(event, lambdaContext('gatepass-authorizer', INVOCATION_TIMEOUT_MS))) as APIGatewayAuthorizerResult;
          const effect = (answer.policyDocument.Statement[0] as { Effect: string }).Effect;
          if (effect === 'Allow') k.allowed += 1;
          else {
            const reason = String(answer.context?.reason);
            k.denied.set(reason, (k.denied.get(reason) ?? 0) + 1);
          }
        } catch (error) {
          faults.push(`${k.kind}: ${(error as Error).message}`);
        }
        decisions += 1;
      }
    };

    let adminUpdates = 0;
    const adminFailures: string[] = [];
    const managed = keys.filter((k) => k.keyId !== undefined);
    const adminLoop = async (loop: number) => {
      const mine = managed.filter((_, index) => index % 2 === loop);
      for (let round = 0; round < MAX_ADMIN_UPDATES_PER_LOOP && !done; round++) {
        const k = mine[round % mine.length]!;
        const alias = `soak-${loop}-${round}`;
        const res = await adminHandler(
          patchEvent(k.keyId!, { alias, metaData: { round, loop: String(loop) } }),
          lambdaContext('gatepass-admin', INVOCATION_TIMEOUT_MS),
        );
        if (res.statusCode === 200) {
          k.lastPatch = { alias, round };
          adminUpdates += 1;
        } else {
          adminFailures.push(`${res.statusCode} ${res.body}`);
        }
      }
    };

    const requests = Promise.all(Array.from({ length: IN_FLIGHT }, authorize)).finally(() => {
      done = true;
    });
    await Promise.all([requests, adminLoop(0), adminLoop(1)]);

    const stored = new Map<string, StoredSession>();
    for (const k of managed) {
      const item = await store.get(keySessionPk(k.keyId!));
      if (item) stored.set(k.keyId!, item);
    }
    result = { keys, faults, decisions, adminUpdates, adminFailures, stored, logs, adminLogs };
  }, SOAK_DEADLINE_MS + 60_000);

  afterAll(async () => {
    await table?.drop();
  });

  it('answers every one of the authorizations, none with a fault', ({ annotate }) => {
    void annotate(`${result.decisions} authorizations, ${result.adminUpdates} concurrent admin updates, ${result.faults.length} faults`);
    expect(result.decisions).toBe(TOTAL);
    expect(result.faults).toEqual([]);
  });

  it('ran the admin updates while the requests ran, every one answered 200', () => {
    const adminErrors = result.adminLogs.lines.filter((line) => line.includes('"level":"ERROR"'));
    expect({ failures: result.adminFailures, adminErrors }).toEqual({ failures: [], adminErrors: [] });
    expect(result.adminUpdates).toBeGreaterThanOrEqual(20);
  });

  it('stores exactly as many consumed requests as it allowed, key by key', () => {
    for (const k of result.keys) {
      if (k.keyId === undefined) continue;
      const item = result.stored.get(k.keyId)!;
      const quotaMax = Number(SESSION_OF[k.kind as Exclude<Kind, 'unknown'>].quotaMax ?? -1);
      const rate = Number(SESSION_OF[k.kind as Exclude<Kind, 'unknown'>].rate ?? 0);
      const label = `${k.kind} ${k.keyId.slice(0, 8)}: ${k.allowed} allowed of ${k.sent}`;
      if (quotaMax > 0) expect(item.quotaUsed ?? 0, label).toBe(k.allowed);
      if (rate > 0) expect(item.rateUsed ?? 0, label).toBe(k.allowed);
    }
  });

  it('allows every request of keys without limits, and exactly the limit of small ones', () => {
    const by = (kind: Kind) => result.keys.filter((k) => k.kind === kind);
    for (const k of by('unlimited')) expect(k.allowed).toBe(k.sent);
    for (const k of [...by('bigQuota'), ...by('rateQuota')]) expect(k.allowed).toBe(k.sent);
    for (const k of by('smallQuota')) {
      expect(k.allowed).toBe(150);
      expect(Object.fromEntries(k.denied)).toEqual({ quota_exceeded: k.sent - 150 });
    }
    for (const k of by('smallRate')) {
      expect(k.allowed).toBe(120);
      expect(Object.fromEntries(k.denied)).toEqual({ rate_limited: k.sent - 120 });
    }
    for (const k of by('unknown')) expect(Object.fromEntries(k.denied)).toEqual({ key_not_found: k.sent });
  });

  it('keeps the last admin update of every key (alias and metaData)', () => {
    for (const k of result.keys) {
      if (k.lastPatch === undefined) continue;
      const item = result.stored.get(k.keyId!)!;
      expect({ alias: item.alias, round: item.metaData.round }).toEqual({ alias: k.lastPatch.alias, round: k.lastPatch.round });
    }
  });

  it('never writes a raw key into a log line, and logs unknown keys masked', () => {
    const lines = [...result.logs.lines, ...result.adminLogs.lines];
    expect(lines.length).toBeGreaterThan(0);
    const leaks = result.keys.flatMap((k) =>
      lines.filter((line) => line.includes(k.key)).map((line) => `${k.kind}: ${line.slice(0, 200)}`),
    );
    expect(leaks).toEqual([]);
    for (const k of result.keys.filter((key) => key.kind === 'unknown')) {
      expect(result.logs.lines.some((line) => line.includes(`"key":"${maskKey(k.key)}"`))).toBe(true);
    }
  });
});

/** `PATCH /keys/{keyId}` as a Function URL delivers it (payload 2.0). */
function patchEvent(keyId: string, body: unknown): APIGatewayProxyEventV2 {
  const path = `/keys/${keyId}`;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'soak-admin',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'PATCH', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'soak' },
      requestId: `soak-${keyId.slice(0, 8)}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}
