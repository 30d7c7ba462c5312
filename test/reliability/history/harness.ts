/**
 * Runs one history on DynamoDB Local: two or three pipeline instances (each its own
 * PolicyStore cache, its own clock = the shared simulated clock + an offset, some with a
 * renewal hook or a settings hook, all verifying HS256 JWTs), an admin (KeyService and a
 * cache-less PolicyStore on the shared clock), the lost-answer fault on every client, a
 * write holder on the admin's and one on each instance's (held requests). Each operation's observations go to the reference model;
 * the first operation it finds in violation ends the history.
 */
import { emptyStats, type HistoryStats } from './stats.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KeyService } from '../../../lambdas/admin/key-service.ts';
import { createJwtVerifier } from '../../../lambdas/core/jwt/jwt.ts';
import { ConfigSchema, validate } from '../../../lambdas/core/model/config.ts';
import { keySessionPk } from '../../../lambdas/core/model/keys.ts';
import { silentLog } from '../../../lambdas/core/model/log.ts';
import { PolicyStore } from '../../../lambdas/core/policies/policy-store.ts';
import { jwtSessionPk } from '../../../lambdas/core/request/identify.ts';
import { Pipeline } from '../../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../../lambdas/core/store/store.ts';
import { signHmacToken } from '../../support/jwks-server.ts';
import { AdminDriver, POLICY_NAMES } from './admin-driver.ts';
import type { InjectedBug } from './bugs.ts';
import { describeOp } from './describe.ts';
import { countAdmin, countBatch, type HistoryRun, headline } from './history-report.ts';
import type { HistorySpec, Op, RequestSpec } from './spec.ts';
import type { HoldNextWrite } from './hold.ts';
import { renewal, settingsHook } from './hooks.ts';
import { dumpItems, type HotKeys, type LeaseView, NOT_SPREAD, readLeases } from './hot-keys.ts';
import type { LostAnswers } from './lost-answers.ts';
import { countingWrite, heldWriteMatcher } from './held-requests.ts';
import { HistoryModel } from './model.ts';
import type { BatchObservation, BatchRequest, Outcome, Who } from './observation.ts';
import { authorize, request } from './requests.ts';
import { nextTime } from './clock-steps.ts';
import { ROUTES } from './routes.ts';

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

const documentClient = (client: DynamoDBClient) =>
  DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

export async function runHistory(spec: HistorySpec, rig: Rig, serial: number): Promise<HistoryRun> {
  let now = BASE_MS;
  const { tableName, lost, bug } = rig;
  lost.disarm();
  rig.hot.heat(spec.hot);
  const instanceClients = spec.hot === undefined ? rig.instanceClients : rig.hotClients;
  const adminDoc = documentClient(rig.adminClient);
  const adminPolicies = new PolicyStore({ client: adminDoc, tableName, cacheSeconds: 0, clock: () => now });
  const keys = new KeyService(
    new SessionStore({ client: adminDoc, tableName, retentionSeconds: RETENTION_SECONDS }),
    () => Math.floor(now / 1000),
    { policies: adminPolicies },
  );
  const admin = new AdminDriver(keys, adminPolicies, `h${serial}-${Date.now().toString(36)}`, () => now);

  await admin.createPolicies(spec.policies);
  let key = await admin.createKey(spec.key);
  const model = new HistoryModel(spec.instances, (await admin.readSettings(key.keyId))!, now, admin.policyId('plan'));
  for (const name of POLICY_NAMES) await admin.recordPolicy(model, name, now);
  const token = await signHmacToken(JWT_SECRET, {
    sub: `${admin.prefix}-user`,
    pol: admin.policyId('plan'),
    iat: Math.floor(BASE_MS / 1000),
    exp: Math.floor(BASE_MS / 1000) + 30 * 86_400,
  });

  const pipelines = spec.instances.map((instance, i) => {
    const doc = documentClient(instanceClients[i]!);
    const clock = () => now + instance.offsetMs + (bug?.clockDriftMs?.(i, now - BASE_MS) ?? 0);
    const cacheSeconds = instance.cacheSeconds + (bug?.extraPolicyCacheSeconds ?? 0);
    const policies = new PolicyStore({ client: doc, tableName, cacheSeconds, clock });
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
    return new Pipeline({ config, store, log: silentLog, clock, plugins, policies, jwt: createJwtVerifier(config.jwt!, { clock }) });
  });

  const trace = [headline(spec, serial)];
  const stats: HistoryStats = {
    ...emptyStats(),
    twoPolicyKeys: spec.key.policies.length > 1 ? 1 : 0,
    hotHistories: spec.hot === undefined ? 0 : 1,
  };
  const jwtPk = jwtSessionPk('', `${admin.prefix}-user`).pk;
  /** Counter items each subject was last seen spread over. */
  const shards: Record<Who, number> = { key: 0, jwt: 0 };
  let mostCounterItems = 0;
  const lostAtStart = lost.injected;
  const sentAtStart = lost.sent;
  const finish = (violation?: HistoryRun['violation']): HistoryRun => {
    lost.disarm();
    stats.scopedAllows = model.scopedAllows;
    stats.spreadHistories = mostCounterItems > 0 ? 1 : 0;
    const requests = lost.sent - sentAtStart;
    return { violation, trace, ...stats, lostAnswers: lost.injected - lostAtStart, requests, mostCounterItems };
  };
  const describe = (op: Op) => describeOp(op, spec.instances.length);
  const time = (number: string) => `${number} t+${((now - BASE_MS) / 1000).toFixed(3)}s`;

  for (const [index, op] of spec.ops.entries()) {
    const messages = await runOp(op, `${String(index).padStart(2)}.`);
    if (messages.length > 0) {
      trace.push(`      ✗ ${messages.join('\n      ✗ ')}`);
      if (spec.hot !== undefined) {
        for (const pk of [`key#${key.keyId}`, jwtPk]) trace.push(...(await dumpItems(adminDoc, tableName, pk)).map((l) => `      ${l}`));
      }
      return finish({ op: index, messages });
    }
  }
  return finish();

  async function runOp(op: Op, number: string): Promise<string[]> {
    switch (op.kind) {
      case 'clock': {
        now = nextTime(op.step, now, model, spec.instances);
        if (op.waitMs !== undefined) await sleep(op.waitMs);
        trace.push(`${time(number)} ${describe(op)}`);
        return [];
      }
      case 'lose':
        lost.arm(op.count);
        trace.push(`${number} ${describe(op)}`);
        return [];
      case 'admin': {
        const lostBefore = lost.injected;
        const armedBefore = lost.armed;
        if (op.loseAnswer) lost.arm(1);
        const views = spec.hot === undefined ? undefined : { key: await leasesOf('key'), jwt: await leasesOf('jwt') };
        const result = await admin.run(op.op, model.settings, key.keyId);
        // Every change deletes the counter items: what their leases had not spent stays counted.
        if (views !== undefined && op.op.kind !== 'policy') model.revoked('key', views.key);
        if (views !== undefined && op.op.kind === 'policy') for (const who of WHO) if (views[who].shards > 0) model.revoked(who, 'unknown');
        // A reset, a raise or a policy write is seen up to a second late by an instance that repeats a denial.
        for (const who of op.op.kind === 'policy' ? WHO : (['key'] as const)) model.stale.changed(who, now);
        if (op.loseAnswer && lost.armed > armedBefore) {
          lost.disarm();
          lost.arm(armedBefore);
        }
        countAdmin(stats, op.op.kind, lost.injected - lostBefore, op.op.kind === 'patch-policy' && op.op.policies.length > 1);
        const line = `${describe(op)} → ${result.ok ? 'ok' : `failed (${result.error})`}${lost.injected > lostBefore ? `, ${lost.injected - lostBefore} lost` : ''}`;
        const problems = await admin.settle(model, op.op, result, key.keyId, now, true);
        trace.push(`${time(number)} ${line}`);
        return problems;
      }
      case 'batch': {
        const lostBefore = lost.injected;
        const alongside = op.alongside;
        const adminRun =
          alongside === undefined ? undefined : () => sleep(op.delayMs).then(() => admin.run(alongside, model.settings, key.keyId));
        const [verdict, result] = await batch(
          op.requests,
          adminRun,
          async (r) => {
            if (alongside === undefined || r === undefined) return [];
            countAdmin(stats, alongside.kind, 0, alongside.kind === 'patch-policy' && alongside.policies.length > 1);
            return admin.settle(model, alongside, r, key.keyId, now, false);
          },
          alongside && admin.kindOf(alongside),
        );
        const failed = result && !result.ok ? ` (it failed: ${result.error})` : '';
        const lostNow = lost.injected > lostBefore ? ` [${lost.injected - lostBefore} lost]` : '';
        trace.push(`${time(number)} ${describe(op)}${failed}${lostNow}\n      ${verdict.summary}`);
        return [...verdict.violations];
      }
      case 'recreate':
        return recreate(op, number);
      case 'held':
        return held(op, number);
      case 'cool':
        return cool(op, number);
    }
  }

  /**
   * A batch of concurrent authorizations (and an admin write alongside, if any), checked by
   * the model: its violations, and the admin write's result.
   */
  async function batch(
    specs: readonly RequestSpec[],
    adminRun: (() => Promise<Awaited<ReturnType<AdminDriver['run']>>>) | undefined,
    settle: (r: Awaited<ReturnType<AdminDriver['run']>> | undefined) => Promise<string[]>,
    kind?: 'settings' | 'reset' | 'policy',
  ) {
    const before = await leasesAround();
    const lostBefore = lost.injected;
    const requests = specs.map(batchRequest);
    const decisions = Promise.all(requests.map((r) => authorize(pipelines[r.instance]!, request(r, authorization(r)))));
    const [outcomes, result] = await Promise.all([decisions, adminRun?.()]);
    const problems = await settle(result);
    const verdict = await observe(requests, outcomes, before, lost.injected - lostBefore, {
      alongside: kind && result ? { kind, ok: result.ok } : undefined,
      written: adminRun !== undefined,
    });
    return [{ ...verdict, violations: [...problems, ...verdict.violations] }, result] as const;
  }

  /** The model's verdict on `requests` and their outcomes (`before`: the leases read before them), counted into the stats. */
  async function observe(
    requests: readonly BatchRequest[],
    outcomes: readonly Outcome[],
    before: Record<Who, LeaseView> | undefined,
    lostAnswers: number,
    extra: { alongside?: BatchObservation['alongside']; written?: boolean; held?: BatchObservation['held'] },
  ) {
    const leases =
      before === undefined
        ? undefined
        : { key: { before: before.key, after: await leasesOf('key') }, jwt: { before: before.jwt, after: await leasesOf('jwt') } };
    const verdict = model.batch({
      at: now,
      requests,
      outcomes,
      lost: lostAnswers,
      alongside: extra.alongside,
      settingsAfter: extra.written || model.mayWrite(requests, now) ? await admin.readSettings(key.keyId) : model.settings,
      leases,
      ...(extra.held ? { held: extra.held } : {}),
    });
    countBatch(stats, spec, requests, outcomes, verdict.clean);
    return verdict;
  }

  /**
   * A held request (held-requests.ts): its counting write parked while `during` runs (their
   * requests on its instance go to the next one: they would wait for its fill), then let go,
   * and checked alone as one request decided when it landed (model.ts). One that went
   * through without such a write is checked at once, before the steps.
   */
  async function held(op: Extract<Op, { kind: 'held' }>, number: string): Promise<string[]> {
    const n = spec.instances.length;
    const r = batchRequest(op.request);
    const away = (o: Op): Op =>
      o.kind !== 'batch'
        ? o
        : { ...o, requests: o.requests.map((q) => (q.instance % n === r.instance ? { ...q, instance: r.instance + 1 } : q)) };
    const since = now;
    const settings = model.settings;
    const lostBefore = lost.injected;
    const before = await leasesAround();
    const hold = rig.instanceHolds[r.instance]!.hold(heldWriteMatcher(op.write));
    const outcome = authorize(pipelines[r.instance]!, request(r, authorization(r)));
    const parked = await Promise.race([hold.parked, outcome.then(() => undefined)]);
    stats.heldRequests += 1;
    const steps = async (): Promise<string[]> => {
      for (const [k, o] of op.during.entries()) {
        const messages = await runOp(away(o), `${number.trim()}${String.fromCharCode(97 + k)}`.padStart(4));
        if (messages.length > 0) return messages;
      }
      return [];
    };
    if (parked === undefined) {
      hold.release();
      const verdict = await observe([r], [await outcome], before, lost.injected - lostBefore, {});
      trace.push(`${time(number)} ${describe(op)}\n      no such write: decided at once; ${verdict.summary}`);
      return verdict.violations.length > 0 ? verdict.violations : steps();
    }
    const kind = countingWrite(parked.write) ?? 'write';
    stats.parkedWrites += 1;
    if (kind === 'fill') stats.parkedFills += 1;
    if (kind === 'cooling') stats.parkedCoolings += 1;
    trace.push(`${time(number)} ${describe(op)}\n      its ${kind} parked`);
    const lostWhileHeld = lost.injected - lostBefore;
    const problems = await steps();
    hold.release();
    const lostAtRelease = lost.injected;
    const beforeRelease = await leasesAround();
    const result = await outcome;
    if (problems.length > 0) return problems;
    const verdict = await observe([r], [result], beforeRelease, lostWhileHeld + lost.injected - lostAtRelease, {
      held: { since, settings },
    });
    const sent = await hold.sent;
    if (kind === 'fill' && sent === 'landed') stats.landedFills += 1;
    trace.push(
      `${time(number)} let go (held since t+${((since - BASE_MS) / 1000).toFixed(3)}s), its ${kind} → ${sent}: ${verdict.summary}`,
    );
    return verdict.violations;
  }

  /** Cools a spread key down to `op.to` counter items: 61 s on, one request, again, while it has more (at most 10 times). */
  async function cool(op: Extract<Op, { kind: 'cool' }>, number: string): Promise<string[]> {
    trace.push(`${number} ${describe(op)}`);
    const request: RequestSpec = { instance: op.instance, route: 0, who: 'key' };
    for (let i = 0; i < 10 && (await leasesOf('key')).shards > op.to; i++) {
      for (const step of [
        { kind: 'clock', step: { by: 61_000 }, waitMs: 1100 },
        { kind: 'batch', requests: [request], delayMs: 0 },
      ] as const) {
        const messages = await runOp(step, `${number.trim()}${String.fromCharCode(97 + i)}`.padStart(4));
        if (messages.length > 0) return messages;
      }
    }
    return [];
  }

  function batchRequest(r: RequestSpec): BatchRequest {
    return { instance: r.instance % spec.instances.length, route: ROUTES[r.route]!, who: r.who, ...(r.hook ? { hook: r.hook } : {}) };
  }

  function authorization(r: BatchRequest): string {
    return r.who === 'jwt' ? `Bearer ${token}` : key.key;
  }

  /** Both subjects' counter items now, in hot histories. */
  async function leasesAround(): Promise<Record<Who, LeaseView> | undefined> {
    return spec.hot === undefined ? undefined : { key: await leasesOf('key'), jwt: await leasesOf('jwt') };
  }

  /**
   * DELETE the key and create it again with the same raw key — with a reset-quota that read
   * the old key held before its write until the new key has served `between`. A reset that
   * read the old key must not land on the new one (it answers 404 or 409); one whose write
   * went out without a read is a reset of the new key, at the moment it was let go.
   */
  async function recreate(op: Extract<Op, { kind: 'recreate' }>, number: string): Promise<string[]> {
    const lostBefore = lost.injected;
    const held = op.resetInFlight ? rig.hold.hold() : undefined;
    const reset = held ? admin.run({ kind: 'reset' }, model.settings, key.keyId) : undefined;
    const parked = held !== undefined && reset !== undefined ? await Promise.race([held.parked, reset.then(() => undefined)]) : undefined;
    if (held && parked === undefined) held.release();
    const versionBefore = await keys.get(key.keyId).then(
      (k) => k.version,
      () => undefined,
    );
    const readBefore = op.resendDelete ? versionBefore : undefined;
    const deleted = op.byTtl ? await endByTtl() : await deleteKey(readBefore);
    const created = await admin.createKey(op.key, key.key).then(
      (k) => ({ ok: true as const, key: k }),
      (error: { code?: string; name?: string }) => ({ ok: false as const, error: error.code ?? error.name ?? 'Error' }),
    );
    if (created.ok) key = created.key;
    const versionAfter = created.ok ? await keys.get(key.keyId).then((k) => k.version) : undefined;
    const wasSpread = shards.key > 0;
    shards.key = 0;
    model.recreated(now, await admin.readSettings(key.keyId), wasSpread);
    stats.recreations += 1;
    stats.twoPolicyKeys += op.key.policies.length > 1 ? 1 : 0;
    trace.push(
      `${time(number)} ${parked ? `reset held after ${parked.read ? 'reading the key' : 'no read'}; ` : held ? 'reset answered before any write; ' : ''}` +
        `DELETE → ${deleted}; create again → ${created.ok ? 'ok' : `failed (${created.error})`}`,
    );
    const [between] = await batch(op.between, undefined, async () => []);
    trace.push(`      between: ${between.summary}`);
    if (between.violations.length > 0) {
      held?.release();
      await reset;
      return [...between.violations];
    }
    const problems: string[] = [];
    // A key's versions go on across its lives: the new one starts above every version the old one had, however it ended.
    if (versionBefore !== undefined && versionAfter !== undefined && versionAfter <= versionBefore)
      problems.push(`the key created again is at version ${versionAfter}, one its old life had (${versionBefore} before it ended)`);
    if (readBefore !== undefined) {
      // The admin re-sends the DELETE (its answer lost, say) with the If-Match it read in the old life.
      const again = await deleteKey(readBefore);
      stats.resentDeletes += 1;
      trace.push(`      the same DELETE (If-Match: ${readBefore}) sent again → ${again}`);
      if (again === 'ok' && created.ok)
        problems.push(`a DELETE re-sent with the If-Match of the deleted life (version ${readBefore}) deleted the key created again`);
    }
    if (held !== undefined && reset !== undefined) {
      // A reset that lands on the new key deletes its counter items.
      if (spec.hot !== undefined) model.revoked('key', await leasesOf('key'));
      held.release();
      const result = await reset;
      stats.heldResets += 1;
      if (parked?.read === false) model.reset(now, result.ok);
      else if (parked?.read && result.ok) {
        problems.push('a reset-quota that read the key before it was deleted answered success after the key was created again');
      }
      trace.push(`      the reset let go → ${result.ok ? 'ok' : `failed (${result.error})`}`);
    }
    stats.lostAdminAnswers += lost.injected - lostBefore;
    const [after] = await batch(op.after, undefined, async () => []);
    trace.push(`      after: ${after.summary}`);
    return [...after.violations, ...problems];
  }

  /** A subject's counter items as they are now (none outside hot histories), counted into the stats. */
  async function leasesOf(who: Who): Promise<LeaseView> {
    if (spec.hot === undefined) return NOT_SPREAD;
    const view = await readLeases(adminDoc, tableName, who === 'key' ? `key#${key.keyId}` : jwtPk);
    const last = shards[who];
    if (last === 0 && view.shards > 0) stats.spreads += 1;
    else if (view.shards > last) stats.growths += 1;
    else if (view.shards < last) {
      stats.shrinks += 1;
      // A cooling gave unspent leases back: an instance that saw the session item without room moments ago may deny for a second.
      model.stale.changed(who, now);
    }
    shards[who] = view.shards;
    mostCounterItems = Math.max(mostCounterItems, view.shards);
    return view;
  }

  async function deleteKey(ifMatch?: number): Promise<string> {
    try {
      await keys.delete(key.keyId, ifMatch);
      return 'ok';
    } catch (error) {
      const e = error as { code?: string; name?: string };
      return `failed (${e.code ?? e.name ?? 'Error'})`;
    }
  }

  /** What DynamoDB's TTL does to a session past `expires` + retention: the item goes, nothing else is written (its counter items stay). */
  async function endByTtl(): Promise<string> {
    await adminDoc.send(new DeleteCommand({ TableName: tableName, Key: { pk: keySessionPk(key.keyId) } }));
    stats.ttlEnds += 1;
    return 'ended by TTL';
  }
}

const WHO: readonly Who[] = ['key', 'jwt'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
