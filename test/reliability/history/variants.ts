/**
 * Variants of a random history that leave out what a commit is known to get wrong, to
 * measure what the checker detects of an injected bug there (`GATEPASS_HISTORY_WITHOUT`).
 */
import fc from 'fast-check';
import { describeHistory } from './describe.ts';
import type { AdminOp, HistorySpec, KeySpec, Op, RequestSpec } from './spec.ts';

/**
 * The same history with one quota window length and one rate window length everywhere
 * (the key, every policy, per-API limits, hooks, re-creations) and no reset in flight
 * across a re-creation: no window ever changes length and no reset can land on a
 * successor. `GATEPASS_HISTORY_WITHOUT=window-changes` runs these, to measure what the
 * checker detects of an injected bug on a commit that still has the over-grants.
 */
export function withoutWindowChanges(h: HistorySpec): HistorySpec {
  const renewal = h.key.quotaRenewalRate;
  const per = h.key.per;
  const limits = <T extends { quotaRenewalRate?: number; per?: number }>(l: T): T => ({
    ...l,
    ...(l.quotaRenewalRate === undefined ? {} : { quotaRenewalRate: renewal }),
    ...(l.per === undefined ? {} : { per }),
  });
  const request = (r: RequestSpec): RequestSpec =>
    r.hook && 'quotaRenewalRate' in r.hook ? { ...r, hook: { quotaRenewalRate: renewal } } : r;
  const admin = (op: AdminOp): AdminOp => {
    switch (op.kind) {
      case 'put':
        return op.limits ? { ...op, limits: limits(op.limits) } : op;
      case 'patch-renewal':
        return { ...op, quotaRenewalRate: renewal };
      case 'patch-rate':
        return { ...op, per };
      case 'patch-api-limit':
        return op.limit ? { ...op, limit: limits(op.limit) } : op;
      case 'policy':
        return { ...op, limits: limits(op.limits) };
      default:
        return op;
    }
  };
  const key = (k: KeySpec): KeySpec => ({ ...limits(k), ...(k.apiLimit ? { apiLimit: limits(k.apiLimit) } : {}) });
  const op = (o: Op): Op => {
    switch (o.kind) {
      case 'batch':
        return { ...o, requests: o.requests.map(request), ...(o.alongside ? { alongside: admin(o.alongside) } : {}) };
      case 'admin':
        return { ...o, op: admin(o.op) };
      case 'recreate':
        return { ...o, key: key(o.key), resetInFlight: false, between: o.between.map(request), after: o.after.map(request) };
      case 'held':
        return { ...o, during: o.during.map(op) };
      default:
        return o;
    }
  };
  const policies = Object.fromEntries(Object.entries(h.policies).map(([name, p]) => [name, limits(p)])) as HistorySpec['policies'];
  const fixed = { ...(h.hot === undefined ? {} : { hot: h.hot }), instances: h.instances, key: key(h.key), policies, ops: h.ops.map(op) };
  return Object.assign(fixed, { [fc.toStringMethod]: () => describeHistory(fixed) });
}

/** The same history with no reset in flight across a re-creation (`GATEPASS_HISTORY_WITHOUT=held-resets`). */
export function withoutHeldResets(h: HistorySpec): HistorySpec {
  const ops = h.ops.map((o): Op => (o.kind === 'recreate' ? { ...o, resetInFlight: false } : o));
  const fixed = { ...h, ops };
  return Object.assign(fixed, { [fc.toStringMethod]: () => describeHistory(fixed) });
}
