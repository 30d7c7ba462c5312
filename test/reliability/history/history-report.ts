/**
 * What a history reports (harness.ts): the first line of its trace, the counts of what it
 * exercised (stats.ts) as its batches and admin writes run, and its result for the closing
 * line — the violation that ended it, if any, with the trace.
 */
import type { BatchRequest, Outcome } from './observation.ts';
import { RIGHTS } from './routes.ts';
import type { InstanceSpec } from './settings.ts';
import type { HistorySpec } from './spec.ts';
import type { HistoryStats } from './stats.ts';

/** One history's result: what it exercised, the violation that ended it and the trace of its steps. */
export interface HistoryRun extends HistoryStats {
  readonly violation?: { readonly op: number; readonly messages: readonly string[] };
  readonly trace: readonly string[];
  readonly lostAnswers: number;
  /** DynamoDB requests sent (authorizations, admin writes and the model's reads), retries included. */
  readonly requests: number;
  /** Most counter items a key of the history was seen spread over. */
  readonly mostCounterItems: number;
}

/** The trace's first line: the key's rights, and each instance's clock offset, policy cache and hooks. */
export function headline(spec: HistorySpec, serial: number): string {
  const hooks = (i: InstanceSpec) => `${i.renews ? ' renews' : ''}${i.hooks ? ' hooks' : ''}`;
  return `history ${serial}: key ${RIGHTS[spec.key.rights]!.name}, instances ${spec.instances.map((i, n) => `i${n} +${i.offsetMs} ms cache ${i.cacheSeconds} s${hooks(i)}`).join(', ')}`;
}

/** Counts a batch the model checked (`clean`: predicted exactly) into `stats`. */
export function countBatch(
  stats: HistoryStats,
  spec: HistorySpec,
  requests: readonly BatchRequest[],
  outcomes: readonly Outcome[],
  clean: boolean,
): void {
  stats.authorizations += requests.length;
  stats.jwtAuthorizations += requests.filter((r) => r.who === 'jwt').length;
  stats.hookRequests += requests.filter((r) => r.hook && spec.instances[r.instance]!.hooks).length;
  stats.batches += 1;
  stats.failedClosed += outcomes.filter((o) => 'error' in o).length;
  if (spec.hot !== undefined) stats.hotFaults += outcomes.filter((o) => 'error' in o).length;
  if (clean) stats.cleanBatches += 1;
}

/** Counts an admin or policy write of `kind` (its lost answers, whether it gave the key two policies) into `stats`. */
export function countAdmin(stats: HistoryStats, kind: string, lostAnswers: number, twoPolicies: boolean): void {
  stats.lostAdminAnswers += lostAnswers;
  if (kind === 'policy') stats.policyWrites += 1;
  if (kind === 'patch-api-limit') stats.scopeWrites += 1;
  if (kind === 'reset') stats.resets += 1;
  if (twoPolicies) stats.twoPolicyKeys += 1;
}
