/**
 * Runs one history on DynamoDB Local: two or three pipeline instances, an admin, the
 * lost-answer fault on every client, a write holder on the admin's and one on each
 * instance's (held requests), as set up by setup.ts. Each operation's observations go to
 * the reference model; the first operation it finds in violation ends the history.
 */
import { nextTime } from './clock-steps.ts';
import { runHeld } from './held-op.ts';
import { countAdmin, type HistoryRun } from './history-report.ts';
import { dumpItems } from './hot-keys.ts';
import type { Who } from './observation.ts';
import { runRecreate } from './recreate-op.ts';
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

const WHO: readonly Who[] = ['key', 'jwt'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
