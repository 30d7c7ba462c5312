/**
 * Runs one history on DynamoDB Local: two or three pipeline instances, an admin, the
 * lost-answer fault on every client, a write holder on the admin's and one on each
 * instance's (held requests), as set up by setup.ts. Each operation's observations go to
 * the reference model; the first operation it finds in violation ends the history.
 */
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { keySessionPk } from '../../../lambdas/core/model/keys.ts';
import { nextTime } from './clock-steps.ts';
import { countingWrite, heldWriteMatcher } from './held-requests.ts';
import { countAdmin, type HistoryRun } from './history-report.ts';
import { dumpItems } from './hot-keys.ts';
import type { Who } from './observation.ts';
import { authorize, request } from './requests.ts';
import { RunningHistory } from './running-history.ts';
import { BASE_MS, type Rig, type SharedClock, setUp } from './setup.ts';
import type { HistorySpec, Op, RequestSpec } from './spec.ts';

/** Runs history number `serial` of `spec` on the rig, to its end or its first violation. */
export async function runHistory(spec: HistorySpec, rig: Rig, serial: number): Promise<HistoryRun> {
  const clock: SharedClock = { now: BASE_MS };
  const h = new RunningHistory(spec, rig, serial, clock, await setUp(spec, rig, serial, clock));
  for (const [index, op] of spec.ops.entries()) {
    const messages = await runOp(h, op, `${String(index).padStart(2)}.`);
    if (messages.length > 0) {
      h.trace.push(`      ✗ ${messages.join('\n      ✗ ')}`);
      if (spec.hot !== undefined) {
        for (const pk of [`key#${h.key.keyId}`, h.jwtPk])
          h.trace.push(...(await dumpItems(h.adminDoc, h.tableName, pk)).map((l) => `      ${l}`));
      }
      return h.finish({ op: index, messages });
    }
  }
  return h.finish();
}

/** Runs one operation of the history (`number`: its number in the trace); returns the violations found. */
async function runOp(h: RunningHistory, op: Op, number: string): Promise<string[]> {
  const { lost, model, admin, trace, spec } = h;
  switch (op.kind) {
    case 'clock': {
      h.now = nextTime(op.step, h.now, model, spec.instances);
      if (op.waitMs !== undefined) await sleep(op.waitMs);
      trace.push(`${h.time(number)} ${h.describe(op)}`);
      return [];
    }
    case 'lose':
      lost.arm(op.count);
      trace.push(`${number} ${h.describe(op)}`);
      return [];
    case 'admin': {
      const lostBefore = lost.injected;
      const armedBefore = lost.armed;
      if (op.loseAnswer) lost.arm(1);
      const views = spec.hot === undefined ? undefined : { key: await h.leasesOf('key'), jwt: await h.leasesOf('jwt') };
      const result = await admin.run(op.op, model.settings, h.key.keyId);
      // Every change deletes the counter items: what their leases had not spent stays counted.
      if (views !== undefined && op.op.kind !== 'policy') model.revoked('key', views.key);
      if (views !== undefined && op.op.kind === 'policy') for (const who of WHO) if (views[who].shards > 0) model.revoked(who, 'unknown');
      // A reset, a raise or a policy write is seen up to a second late by an instance that repeats a denial.
      for (const who of op.op.kind === 'policy' ? WHO : (['key'] as const)) model.stale.changed(who, h.now);
      if (op.loseAnswer && lost.armed > armedBefore) {
        lost.disarm();
        lost.arm(armedBefore);
      }
      countAdmin(h.stats, op.op.kind, lost.injected - lostBefore, op.op.kind === 'patch-policy' && op.op.policies.length > 1);
      const line = `${h.describe(op)} → ${result.ok ? 'ok' : `failed (${result.error})`}${lost.injected > lostBefore ? `, ${lost.injected - lostBefore} lost` : ''}`;
      const problems = await admin.settle(model, op.op, result, h.key.keyId, h.now, true);
      trace.push(`${h.time(number)} ${line}`);
      return problems;
    }
    case 'batch': {
      const lostBefore = lost.injected;
      const alongside = op.alongside;
      const adminRun =
        alongside === undefined ? undefined : () => sleep(op.delayMs).then(() => admin.run(alongside, model.settings, h.key.keyId));
      const [verdict, result] = await h.batch(
        op.requests,
        adminRun,
        async (r) => {
          if (alongside === undefined || r === undefined) return [];
          countAdmin(h.stats, alongside.kind, 0, alongside.kind === 'patch-policy' && alongside.policies.length > 1);
          return admin.settle(model, alongside, r, h.key.keyId, h.now, false);
        },
        alongside && admin.kindOf(alongside),
      );
      const failed = result && !result.ok ? ` (it failed: ${result.error})` : '';
      const lostNow = lost.injected > lostBefore ? ` [${lost.injected - lostBefore} lost]` : '';
      trace.push(`${h.time(number)} ${h.describe(op)}${failed}${lostNow}\n      ${verdict.summary}`);
      return [...verdict.violations];
    }
    case 'recreate':
      return runRecreate(h, op, number);
    case 'held':
      return runHeld(h, op, number, (o, n) => runOp(h, o, n));
    case 'cool':
      return cool(h, op, number);
  }
}

/** Cools a spread key down to `op.to` counter items: 61 s on, one request, again, while it has more (at most 10 times). */
async function cool(h: RunningHistory, op: Extract<Op, { kind: 'cool' }>, number: string): Promise<string[]> {
  h.trace.push(`${number} ${h.describe(op)}`);
  const request: RequestSpec = { instance: op.instance, route: 0, who: 'key' };
  for (let i = 0; i < 10 && (await h.leasesOf('key')).shards > op.to; i++) {
    for (const step of [
      { kind: 'clock', step: { by: 61_000 }, waitMs: 1100 },
      { kind: 'batch', requests: [request], delayMs: 0 },
    ] as const) {
      const messages = await runOp(h, step, `${number.trim()}${String.fromCharCode(97 + i)}`.padStart(4));
      if (messages.length > 0) return messages;
    }
  }
  return [];
}

/**
 * Runs a held request: its counting write parked while `during` runs (through `run`; their
 * requests on its instance go to the next one: they would wait for its fill), then let go,
 * and checked alone. One that went through without such a write is checked at once, before
 * the steps. Returns the violations found.
 */
async function runHeld(
  h: RunningHistory,
  op: Extract<Op, { kind: 'held' }>,
  number: string,
  run: (op: Op, number: string) => Promise<string[]>,
): Promise<string[]> {
  const { lost, stats, trace } = h;
  const n = h.spec.instances.length;
  const r = h.batchRequest(op.request);
  const away = (o: Op): Op =>
    o.kind !== 'batch'
      ? o
      : { ...o, requests: o.requests.map((q) => (q.instance % n === r.instance ? { ...q, instance: r.instance + 1 } : q)) };
  const since = h.now;
  const settings = h.model.settings;
  const lostBefore = lost.injected;
  const before = await h.leasesAround();
  const hold = h.rig.instanceHolds[r.instance]!.hold(heldWriteMatcher(op.write));
  const outcome = authorize(h.pipelines[r.instance]!, request(r, h.authorization(r)));
  const parked = await Promise.race([hold.parked, outcome.then(() => undefined)]);
  stats.heldRequests += 1;
  const steps = async (): Promise<string[]> => {
    for (const [k, o] of op.during.entries()) {
      const messages = await run(away(o), `${number.trim()}${String.fromCharCode(97 + k)}`.padStart(4));
      if (messages.length > 0) return messages;
    }
    return [];
  };
  if (parked === undefined) {
    hold.release();
    const verdict = await h.observe([r], [await outcome], before, lost.injected - lostBefore, {});
    trace.push(`${h.time(number)} ${h.describe(op)}\n      no such write: decided at once; ${verdict.summary}`);
    return verdict.violations.length > 0 ? verdict.violations : steps();
  }
  const kind = countingWrite(parked.write) ?? 'write';
  stats.parkedWrites += 1;
  if (kind === 'fill') stats.parkedFills += 1;
  if (kind === 'cooling') stats.parkedCoolings += 1;
  trace.push(`${h.time(number)} ${h.describe(op)}\n      its ${kind} parked`);
  const lostWhileHeld = lost.injected - lostBefore;
  const problems = await steps();
  hold.release();
  const lostAtRelease = lost.injected;
  const beforeRelease = await h.leasesAround();
  const result = await outcome;
  if (problems.length > 0) return problems;
  const verdict = await h.observe([r], [result], beforeRelease, lostWhileHeld + lost.injected - lostAtRelease, {
    held: { since, settings },
  });
  const sent = await hold.sent;
  if (kind === 'fill' && sent === 'landed') stats.landedFills += 1;
  trace.push(
    `${h.time(number)} let go (held since t+${((since - BASE_MS) / 1000).toFixed(3)}s), its ${kind} → ${sent}: ${verdict.summary}`,
  );
  return verdict.violations;
}

/**
 * DELETE the key and create it again with the same raw key — with a reset-quota that read
 * the old key held before its write until the new key has served `between`. A reset that
 * read the old key must not land on the new one (it answers 404 or 409); one whose write
 * went out without a read is a reset of the new key, at the moment it was let go. Returns
 * the violations found.
 */
async function runRecreate(h: RunningHistory, op: Extract<Op, { kind: 'recreate' }>, number: string): Promise<string[]> {
  const { lost, stats, trace, model, admin, keys } = h;
  const lostBefore = lost.injected;
  const held = op.resetInFlight ? h.rig.hold.hold() : undefined;
  const reset = held ? admin.run({ kind: 'reset' }, model.settings, h.key.keyId) : undefined;
  const parked = held !== undefined && reset !== undefined ? await Promise.race([held.parked, reset.then(() => undefined)]) : undefined;
  if (held && parked === undefined) held.release();
  const versionBefore = await keys.get(h.key.keyId).then(
    (k) => k.version,
    () => undefined,
  );
  const readBefore = op.resendDelete ? versionBefore : undefined;
  const deleted = op.byTtl ? await endByTtl(h) : await deleteKey(h, readBefore);
  const created = await admin.createKey(op.key, h.key.key).then(
    (k) => ({ ok: true as const, key: k }),
    (error: { code?: string; name?: string }) => ({ ok: false as const, error: error.code ?? error.name ?? 'Error' }),
  );
  if (created.ok) h.key = created.key;
  const versionAfter = created.ok ? await keys.get(h.key.keyId).then((k) => k.version) : undefined;
  const wasSpread = h.shards.key > 0;
  h.shards.key = 0;
  model.recreated(h.now, await admin.readSettings(h.key.keyId), wasSpread);
  stats.recreations += 1;
  stats.twoPolicyKeys += op.key.policies.length > 1 ? 1 : 0;
  trace.push(
    `${h.time(number)} ${parked ? `reset held after ${parked.read ? 'reading the key' : 'no read'}; ` : held ? 'reset answered before any write; ' : ''}` +
      `DELETE → ${deleted}; create again → ${created.ok ? 'ok' : `failed (${created.error})`}`,
  );
  const [between] = await h.batch(op.between, undefined, async () => []);
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
    const again = await deleteKey(h, readBefore);
    stats.resentDeletes += 1;
    trace.push(`      the same DELETE (If-Match: ${readBefore}) sent again → ${again}`);
    if (again === 'ok' && created.ok)
      problems.push(`a DELETE re-sent with the If-Match of the deleted life (version ${readBefore}) deleted the key created again`);
  }
  if (held !== undefined && reset !== undefined) {
    // A reset that lands on the new key deletes its counter items.
    if (h.spec.hot !== undefined) model.revoked('key', await h.leasesOf('key'));
    held.release();
    const result = await reset;
    stats.heldResets += 1;
    if (parked?.read === false) model.reset(h.now, result.ok);
    else if (parked?.read && result.ok) {
      problems.push('a reset-quota that read the key before it was deleted answered success after the key was created again');
    }
    trace.push(`      the reset let go → ${result.ok ? 'ok' : `failed (${result.error})`}`);
  }
  stats.lostAdminAnswers += lost.injected - lostBefore;
  const [after] = await h.batch(op.after, undefined, async () => []);
  trace.push(`      after: ${after.summary}`);
  return [...after.violations, ...problems];
}

/** The key deleted through the admin API (`ifMatch`: the version it must be at): `ok`, or why it failed. */
async function deleteKey(h: RunningHistory, ifMatch?: number): Promise<string> {
  try {
    await h.keys.delete(h.key.keyId, ifMatch);
    return 'ok';
  } catch (error) {
    const e = error as { code?: string; name?: string };
    return `failed (${e.code ?? e.name ?? 'Error'})`;
  }
}

/** What DynamoDB's TTL does to a session past `expires` + retention: the item goes, nothing else is written (its counter items stay). */
async function endByTtl(h: RunningHistory): Promise<string> {
  await h.adminDoc.send(new DeleteCommand({ TableName: h.tableName, Key: { pk: keySessionPk(h.key.keyId) } }));
  h.stats.ttlEnds += 1;
  return 'ended by TTL';
}

const WHO: readonly Who[] = ['key', 'jwt'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
