/**
 * What a history runs on (harness.ts): the rig every history shares (the table, one client
 * per instance slot and one for the admin, the faults installed on them), and what each
 * history sets up on it — an admin (KeyService and a cache-less PolicyStore on the shared
 * clock), the policies, the key and the JWT identity's token, and two or three pipeline
 * instances (each its own PolicyStore cache, its own clock = the shared simulated clock +
 * an offset, some with a renewal hook or a settings hook, all verifying HS256 JWTs).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KeyService } from '../../../lambdas/admin/key-service.ts';
import { createJwtVerifier } from '../../../lambdas/core/jwt/jwt.ts';
import { ConfigSchema, validate } from '../../../lambdas/core/model/config.ts';
import { silentLog } from '../../../lambdas/core/model/log.ts';
import { PolicyStore } from '../../../lambdas/core/policies/policy-store.ts';
import { Pipeline } from '../../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../../lambdas/core/store/store.ts';
import { signHmacToken } from '../../support/jwks-server.ts';
import { AdminDriver, POLICY_NAMES } from './admin-driver.ts';
import type { InjectedBug } from './bugs.ts';
import type { HoldNextWrite } from './hold.ts';
import { renewal, settingsHook } from './hooks.ts';
import type { HotKeys } from './hot-keys.ts';
import type { LostAnswers } from './lost-answers.ts';
import { HistoryModel } from './model.ts';
import type { InstanceSpec } from './settings.ts';
import type { HistorySpec } from './spec.ts';

/** Simulated time at which every history starts (a fixed date, so that runs repeat). */
export const BASE_MS = 1_800_000_000_000;
/** Expired sessions are kept this long before TTL (far beyond any history). */
const RETENTION_SECONDS = 2_592_000;
/** The HMAC secret the instances verify JWTs with. */
const JWT_SECRET = 'history-checker-hmac-secret-0123456789abcdef';

/** What every history shares: the table, one client per instance slot and one for the admin, the faults. */
export interface Rig {
  readonly tableName: string;
  readonly instanceClients: readonly DynamoDBClient[];
  readonly adminClient: DynamoDBClient;
  readonly lost: LostAnswers;
  readonly hold: HoldNextWrite;
  /** One holder per instance slot, on its client and its hot client: a held request's counting write. */
  readonly instanceHolds: readonly HoldNextWrite[];
  /** The instance clients of histories with hot keys: the authorizer's retry strategy, and the switchable ceiling. */
  readonly hotClients: readonly DynamoDBClient[];
  readonly hot: HotKeys;
  /** A bug injected on purpose, to measure what the checker detects. */
  readonly bug?: InjectedBug;
}

/** A history's shared simulated clock, ms: the admin's clock, and every instance's with its offset. */
export interface SharedClock {
  now: number;
}

/** What a history starts with, once set up. */
export interface HistorySetup {
  /** The admin's document client (also the model's reads of counter items and the TTL's delete). */
  readonly adminDoc: DynamoDBDocumentClient;
  readonly keys: KeyService;
  readonly admin: AdminDriver;
  /** The key as first created. */
  readonly key: { key: string; keyId: string };
  readonly model: HistoryModel;
  /** The JWT identity's bearer token. */
  readonly token: string;
  /** One pipeline per instance of the spec. */
  readonly pipelines: readonly Pipeline[];
}

/** A document client as the Lambdas make it, on `client`. */
const documentClient = (client: DynamoDBClient) =>
  DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

/**
 * Sets a history up on the rig: the faults disarmed and the ceiling set for it, the admin,
 * the policies and the key (the model told of each), the token, the instances.
 */
export async function setUp(spec: HistorySpec, rig: Rig, serial: number, clock: SharedClock): Promise<HistorySetup> {
  const { tableName, lost } = rig;
  lost.disarm();
  rig.hot.heat(spec.hot);
  const instanceClients = spec.hot === undefined ? rig.instanceClients : rig.hotClients;
  const adminDoc = documentClient(rig.adminClient);
  const adminPolicies = new PolicyStore({ client: adminDoc, tableName, cacheSeconds: 0, clock: () => clock.now });
  const keys = new KeyService(
    new SessionStore({ client: adminDoc, tableName, retentionSeconds: RETENTION_SECONDS }),
    () => Math.floor(clock.now / 1000),
    { policies: adminPolicies },
  );
  const admin = new AdminDriver(keys, adminPolicies, `h${serial}-${Date.now().toString(36)}`, () => clock.now);

  await admin.createPolicies(spec.policies);
  const key = await admin.createKey(spec.key);
  const model = new HistoryModel(spec.instances, (await admin.readSettings(key.keyId))!, clock.now, admin.policyId('plan'));
  for (const name of POLICY_NAMES) await admin.recordPolicy(model, name, clock.now);
  const token = await signHmacToken(JWT_SECRET, {
    sub: `${admin.prefix}-user`,
    pol: admin.policyId('plan'),
    iat: Math.floor(BASE_MS / 1000),
    exp: Math.floor(BASE_MS / 1000) + 30 * 86_400,
  });

  const pipelines = spec.instances.map((instance, i) => pipelineFor(instance, i, instanceClients[i]!, rig, clock));
  return { adminDoc, keys, admin, key, model, token, pipelines };
}

/** Instance `index` of a history: its own policy cache, clock, hooks (and the injected bug's, if any), on `client`. */
function pipelineFor(instance: InstanceSpec, index: number, client: DynamoDBClient, rig: Rig, clock: SharedClock): Pipeline {
  const { tableName, bug } = rig;
  const doc = documentClient(client);
  const instanceClock = () => clock.now + instance.offsetMs + (bug?.clockDriftMs?.(index, clock.now - BASE_MS) ?? 0);
  const cacheSeconds = instance.cacheSeconds + (bug?.extraPolicyCacheSeconds ?? 0);
  const policies = new PolicyStore({ client: doc, tableName, cacheSeconds, clock: instanceClock });
  const config = validate(
    ConfigSchema,
    {
      tableName,
      policyCacheSeconds: cacheSeconds,
      sessionRetentionSeconds: RETENTION_SECONDS,
      jwt: { secret: JWT_SECRET, algorithms: ['HS256'] },
    },
    'history checker',
  );
  const store = new SessionStore({ client: doc, tableName, retentionSeconds: RETENTION_SECONDS });
  const plugins = [...(instance.renews ? [renewal] : []), ...(instance.hooks ? [settingsHook] : []), ...(bug?.plugins ?? [])];
  return new Pipeline({
    config,
    store,
    log: silentLog,
    clock: instanceClock,
    plugins,
    policies,
    jwt: createJwtVerifier(config.jwt!, { clock: instanceClock }),
  });
}
