/**
 * A held request of a history (held-requests.ts): its counting write parked while other
 * steps run, then let go, and checked alone as one request decided when it landed
 * (model.ts).
 */
import { countingWrite, heldWriteMatcher } from './held-requests.ts';
import { authorize, request } from './requests.ts';
import type { RunningHistory } from './running-history.ts';
import { BASE_MS } from './setup.ts';
import type { Op } from './spec.ts';

/**
 * Runs a held request: its counting write parked while `during` runs (through `run`; their
 * requests on its instance go to the next one: they would wait for its fill), then let go,
 * and checked alone. One that went through without such a write is checked at once, before
 * the steps. Returns the violations found.
 */
export async function runHeld(
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
