import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { createJwtVerifier } from '../../lambdas/core/jwt/jwt.ts';
import { parseConfig } from '../../lambdas/core/model/config.ts';
import { silentLog } from '../../lambdas/core/model/log.ts';
import { parsePolicyInput } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import type { Decision } from '../../lambdas/core/request/decision.ts';
import { jwtSessionPk } from '../../lambdas/core/request/identify.ts';
import { Pipeline } from '../../lambdas/core/request/pipeline.ts';
import { pastLifePk } from '../../lambdas/core/store/past-lives.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { hs256Tokens } from '../support/hs256.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';
import { allowsOf, reasonsOf } from '../support/hot-account.ts';
import { spreadKey } from '../support/hot-keys.ts';
import { concurrently, requestWith } from '../support/pipeline.ts';

const SECRET = 'attack12-jwt-lives-secret-0123456789abcdef';
const ISSUER = 'https://issuer.attack12.test/';
const QUOTA = 10;

/**
 * Attack (held): a JWT identity's first requests, all at once on several instances, right
 * after its session was deleted — each a read of `<pk>#past` and a transaction of the Put and
 * a check of that record, racing each other (TransactionConflict, AlreadyExists) and, in the
 * second test, racing the deletes themselves (the record moving under the creates:
 * PastLifeMoved). The identity is a hot key (spread over 4 counter items) before each delete.
 * Observed: every answer an allow or `quota_exceeded` (no fault, no 500); one life per
 * delete, its version one above the last; at most the quota per life (10 of 24 each round;
 * with deletes racing, allows ≤ 10 × lives made).
 */
describe('attack12 (held): a JWT identity re-created by concurrent first requests right after a delete', () => {
  let table: TestTable;
  let doc: DynamoDBDocumentClient;
  let admin: KeyService;
  let instance: () => Pipeline;

  beforeAll(async () => {
    table = await createTestTable('attack12-jwt-lives');
    doc = DynamoDBDocumentClient.from(table.client, { marshallOptions: { removeUndefinedValues: true } });
    const config = parseConfig(
      JSON.stringify({
        tableName: table.tableName,
        policyCacheSeconds: 0,
        jwt: { secret: SECRET, algorithms: ['HS256'], issuer: ISSUER, defaultPolicies: ['plan'] },
      }),
    );
    const plan = parsePolicyInput({ quotaMax: QUOTA, quotaRenewalRate: 86_400 });
    if (!plan.success) throw new Error('bad test policy');
    const policies = new PolicyStore({ client: doc, tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('plan', plan.data);
    const store = new SessionStore({ client: doc, tableName: table.tableName, retentionSeconds: 3600 });
    instance = () => new Pipeline({ config, store, log: silentLog, policies, jwt: createJwtVerifier(config.jwt!) });
    admin = new KeyService(store, () => Date.now() / 1000, { policies });
  });
  afterAll(async () => {
    await table?.drop();
  });

  const tokenFor = hs256Tokens(SECRET, ISSUER);

  /** `perInstance` requests at once on each of `instances` fresh instances. */
  async function burst(sub: string, instances = 4, perInstance = 6): Promise<(Decision | Error)[]> {
    const token = await tokenFor(sub);
    const pipelines = Array.from({ length: instances }, () => instance());
    const answers = await Promise.all(
      pipelines.map((p) => concurrently(perInstance, () => p.authorize(requestWith(`Bearer ${token}`)).catch((e: Error) => e))),
    );
    return answers.flat();
  }

  const pastVersion = async (pk: string) =>
    ((await doc.send(new GetCommand({ TableName: table.tableName, Key: { pk: pastLifePk(pk) }, ConsistentRead: true }))).Item?.version as
      | number
      | undefined) ?? 0;

  it('each delete, then 24 first requests on 4 instances: one new life above the last, 10 allowed, no fault', async () => {
    const sub = 'attack12-burst';
    const { pk, keyId } = jwtSessionPk(ISSUER, sub);
    const rounds: { allows: number; reasons: Record<string, number>; version: number; past: number }[] = [];
    expect(allowsOf(await burst(sub))).toBe(QUOTA);
    for (let round = 0; round < 4; round++) {
      await spreadKey(doc, table.tableName, pk, 4);
      expect(allowsOf(await burst(sub, 2, 3))).toBe(0);
      await admin.update(keyId, { metaData: { round } });
      await admin.delete(keyId);
      // The record as the delete left it (a live session's record holds its version).
      const past = await pastVersion(pk);
      const answers = await burst(sub);
      rounds.push({ allows: allowsOf(answers), reasons: reasonsOf(answers), version: (await admin.get(keyId)).version, past });
    }
    for (const r of rounds) {
      expect(r.allows).toBe(QUOTA);
      expect(Object.keys(r.reasons).sort()).toEqual(['allow', 'quota_exceeded']);
      expect(r.version).toBe(r.past + 1);
    }
  });

  it('deletes racing the first requests: no fault, at most the quota per life made', async () => {
    const sub = 'attack12-racing';
    const { pk, keyId } = jwtSessionPk(ISSUER, sub);
    expect(allowsOf(await burst(sub, 1, 1))).toBe(1);
    let deletes = 0;
    const faults: string[] = [];
    const answers: (Decision | Error)[] = [];
    for (let round = 0; round < 4; round++) {
      const deleting = (async () => {
        for (let i = 0; i < 3; i++) {
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
          await admin.delete(keyId).then(
            () => deletes++,
            (error: Error) => {
              if (error.name !== 'NotFoundError') faults.push(error.name);
            },
          );
        }
      })();
      const [got] = await Promise.all([burst(sub, 4, 6), deleting]);
      answers.push(...got);
    }
    const reasons = reasonsOf(answers);
    // The lives: the first, and at most one per delete that landed.
    const lives = 1 + deletes;
    const versionOfLast = await pastVersion(pk);
    expect({ faults, unexpected: Object.keys(reasons).filter((r) => r !== 'allow' && r !== 'quota_exceeded') }).toEqual({
      faults: [],
      unexpected: [],
    });
    expect(allowsOf(answers) + 1).toBeLessThanOrEqual(QUOTA * lives);
    expect(versionOfLast).toBeGreaterThanOrEqual(deletes);
  });
});
