/**
 * Runs one history on DynamoDB Local: two or three pipeline instances (each its own
 * PolicyStore cache, its own clock = the shared simulated clock + an offset, some with a
 * renewal hook), an admin (KeyService and a cache-less PolicyStore on the shared clock),
 * and the lost-answer fault on every client. Each operation's observations go to the
 * reference model; the first operation it finds in violation ends the history.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KeyService } from '../../../lambdas/admin/key-service.ts';
import { ConfigSchema, validate } from '../../../lambdas/core/model/config.ts';
import { silentLog } from '../../../lambdas/core/model/log.ts';
import type { GatepassPlugin } from '../../../lambdas/core/plugins/plugin.ts';
import { PolicyStore } from '../../../lambdas/core/policies/policy-store.ts';
import { Pipeline } from '../../../lambdas/core/request/pipeline.ts';
import { SessionStore } from '../../../lambdas/core/store/store.ts';
import { AdminDriver } from './admin-driver.ts';
import { describeOp } from './describe.ts';
import type { ClockStep, HistorySpec, Op } from './generator.ts';
import type { LostAnswers } from './lost-answers.ts';
import { HistoryModel, type Outcome } from './model.ts';
import { RIGHTS, ROUTES, type Route } from './routes.ts';
import type { InstanceSpec } from './settings.ts';

/** Simulated time at which every history starts (a fixed date, so that runs repeat). */
export const BASE_MS = 1_800_000_000_000;
/** Expired sessions are kept this long before TTL (far beyond any history). */
const RETENTION_SECONDS = 2_592_000;

type AuthRequest = Parameters<Pipeline['authorize']>[0];

/** What every history shares: the table, one client per instance slot and one for the admin, the fault. */
export interface Rig {
  readonly tableName: string;
  readonly instanceClients: readonly DynamoDBClient[];
  readonly adminClient: DynamoDBClient;
  readonly lost: LostAnswers;
}

export interface HistoryRun {
  readonly violation?: { readonly op: number; readonly messages: readonly string[] };
  readonly trace: readonly string[];
  readonly authorizations: number;
  readonly cleanBatches: number;
  readonly batches: number;
  readonly lostAnswers: number;
  readonly failedClosed: number;
  /** DynamoDB requests sent (authorizations, admin writes and the model's reads), retries included. */
  readonly requests: number;
}

/** The hook of the issue's first bug: renews an expired session for the same request. */
const renewal: GatepassPlugin = {
  name: 'renew-on-expiry',
  async postAuth(ctx) {
    if (ctx.session.expires > 0 && ctx.session.expires <= ctx.now) await ctx.updateSession({ expires: ctx.now + 60 });
  },
};

const documentClient = (client: DynamoDBClient) =>
  DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

export async function runHistory(spec: HistorySpec, rig: Rig, serial: number): Promise<HistoryRun> {
  let now = BASE_MS;
  const { tableName, lost } = rig;
  lost.disarm();
  const adminDoc = documentClient(rig.adminClient);
  const adminPolicies = new PolicyStore({ client: adminDoc, tableName, cacheSeconds: 0, clock: () => now });
  const keys = new KeyService(
    new SessionStore({ client: adminDoc, tableName, retentionSeconds: RETENTION_SECONDS }),
    () => Math.floor(now / 1000),
    { policies: adminPolicies },
  );
  const admin = new AdminDriver(keys, adminPolicies, `h${serial}`, () => now);

  await admin.createPolicies(spec.policies);
  const { key, settings } = await admin.createKey(spec.key);
  const model = new HistoryModel(spec.instances, settings);
  for (const id of ['gold', 'free'] as const) await admin.recordPolicy(model, id, now);
  model.created(now);

  const pipelines = spec.instances.map((instance, i) => {
    const doc = documentClient(rig.instanceClients[i]!);
    const clock = () => now + instance.offsetMs;
    const policies = new PolicyStore({ client: doc, tableName, cacheSeconds: instance.cacheSeconds, clock });
    const config = validate(
      ConfigSchema,
      { tableName, policyCacheSeconds: instance.cacheSeconds, sessionRetentionSeconds: RETENTION_SECONDS },
      'history checker',
    );
    const store = new SessionStore({ client: doc, tableName, retentionSeconds: RETENTION_SECONDS });
    return new Pipeline({ config, store, log: silentLog, clock, plugins: instance.renews ? [renewal] : [], policies });
  });

  const trace = [
    `history ${serial}: key ${RIGHTS[spec.key.rights]!.name}, instances ${spec.instances.map((i, n) => `i${n} +${i.offsetMs} ms cache ${i.cacheSeconds} s${i.renews ? ' renews' : ''}`).join(', ')}`,
  ];
  const stats = { authorizations: 0, cleanBatches: 0, batches: 0, failedClosed: 0 };
  const lostAtStart = lost.injected;
  const sentAtStart = lost.sent;
  const finish = (violation?: HistoryRun['violation']): HistoryRun => {
    lost.disarm();
    return { violation, trace, ...stats, lostAnswers: lost.injected - lostAtStart, requests: lost.sent - sentAtStart };
  };
  const describe = (op: Op) => describeOp(op, spec.instances.length);

  for (const [index, op] of spec.ops.entries()) {
    const messages = await runOp(op, `${String(index).padStart(2)}.`);
    if (messages.length > 0) {
      trace.push(`      ✗ ${messages.join('\n      ✗ ')}`);
      return finish({ op: index, messages });
    }
  }
  return finish();

  async function runOp(op: Op, number: string): Promise<string[]> {
    const time = () => `${number} t+${((now - BASE_MS) / 1000).toFixed(3)}s`;
    switch (op.kind) {
      case 'clock': {
        now = nextTime(op.step, now, model, spec.instances);
        trace.push(`${time()} ${describe(op)}`);
        return [];
      }
      case 'lose':
        lost.arm(op.count);
        trace.push(`${number} ${describe(op)}`);
        return [];
      case 'admin': {
        const lostBefore = lost.injected;
        const result = await admin.run(op.op, model.settings, key.keyId);
        const line = `${describe(op)} → ${result.ok ? 'ok' : `failed (${result.error})`}${lost.injected > lostBefore ? `, ${lost.injected - lostBefore} lost` : ''}`;
        const problems = await admin.settle(model, op.op, result, key.keyId, now, true);
        trace.push(`${time()} ${line}`);
        return problems;
      }
      case 'batch': {
        const lostBefore = lost.injected;
        const requests = op.requests.map((r) => ({ instance: r.instance % spec.instances.length, route: ROUTES[r.route]! }));
        const decisions = Promise.all(requests.map((r) => authorize(pipelines[r.instance]!, request(r.route, key.key))));
        const alongside = op.alongside;
        const adminRun =
          alongside === undefined ? undefined : sleep(op.delayMs).then(() => admin.run(alongside, model.settings, key.keyId));
        const [outcomes, result] = await Promise.all([decisions, adminRun]);
        const problems = alongside && result ? await admin.settle(model, alongside, result, key.keyId, now, false) : [];
        const verdict = model.batch({
          at: now,
          requests,
          outcomes,
          lost: lost.injected - lostBefore,
          alongside: alongside && result ? { kind: admin.kindOf(alongside), ok: result.ok } : undefined,
          settingsAfter: alongside || model.mayRenew(requests, now) ? await admin.readSettings(key.keyId) : model.settings,
        });
        stats.authorizations += requests.length;
        stats.batches += 1;
        stats.failedClosed += outcomes.filter((o) => 'error' in o).length;
        if (verdict.clean) stats.cleanBatches += 1;
        const failed = result && !result.ok ? ` (it failed: ${result.error})` : '';
        trace.push(`${time()} ${describe(op)}${failed}\n      ${verdict.summary}`);
        return [...problems, ...verdict.violations];
      }
    }
  }
}

/**
 * The shared clock after a step. A step aimed at a boundary goes there if it lies ahead,
 * else it moves the clock by 200 ms.
 */
function nextTime(step: ClockStep, now: number, model: HistoryModel, instances: readonly InstanceSpec[]): number {
  if ('by' in step) return now + step.by;
  const offsets = instances.map((i) => i.offsetMs);
  let target: number;
  if ('toEndOf' in step) {
    const window = step.toEndOf === 'quota' ? model.quota : model.rate;
    if (!Number.isFinite(window.endLo) || !Number.isFinite(window.endHi)) return now + 1000;
    // Open for every instance while now + offset < endLo; over for every one once now + offset ≥ endHi.
    if (step.side === 'before') target = window.endLo - Math.max(...offsets) - step.margin;
    else if (step.side === 'after') target = window.endHi - Math.min(...offsets) + step.margin;
    else
      target =
        window.endLo -
        Math.max(...offsets) +
        (step.margin * (window.endHi - window.endLo + Math.max(...offsets) - Math.min(...offsets))) / 600;
  } else {
    const instance = instances[step.pastPolicyCacheOf % instances.length]!;
    const changed = model.policies.lastChange();
    if (changed === undefined) return now + 1000;
    target = changed + instance.cacheSeconds * 1000 + step.margin;
  }
  target = Math.round(target);
  return target > now ? target : now + 200;
}

function request(route: Route, key: string): AuthRequest {
  return {
    apiId: route.apiId,
    stage: route.stage,
    method: route.method,
    path: route.path,
    headers: { authorization: key },
    query: {},
    sourceIp: '127.0.0.1',
  };
}

/** A decision, or the fault it failed closed with (which API Gateway would answer 500: a deny). */
async function authorize(pipeline: Pipeline, req: AuthRequest): Promise<Outcome> {
  try {
    const decision = await pipeline.authorize(req);
    return decision.allow ? { allow: true } : { allow: false, reason: decision.reason };
  } catch (error) {
    const e = error as { code?: string; name?: string };
    return { error: e.code ?? e.name ?? 'Error' };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
