/**
 * How a history prints: a numbered list of its operations, so that a shrunk counterexample
 * reads as a script (fast-check prints it through `fc.toStringMethod`).
 */
import type { AdminOp, ClockStep, HistorySpec, KeySpec, Op, PolicySpec, RequestSpec } from './spec.ts';
import type { HookPatch } from './observation.ts';
import { RIGHTS, ROUTES } from './routes.ts';

export function describeHistory(h: HistorySpec): string {
  const hooks = (i: HistorySpec['instances'][number]) => `${i.renews ? ', renewal hook' : ''}${i.hooks ? ', settings hook' : ''}`;
  const lines = [
    ...(h.hot === undefined ? [] : [`hot: every item takes ${h.hot} write units a second (and ${10 * h.hot} read units)`]),
    `instances: ${h.instances.map((i, n) => `i${n} (+${i.offsetMs} ms, policy cache ${i.cacheSeconds} s${hooks(i)})`).join('; ')}`,
    `key: ${describeKey(h.key)}`,
    `policies: ${Object.entries(h.policies)
      .map(([name, p]) => `${name} ${describeLimits(p)}`)
      .join('; ')}; the JWT identity's plan is "plan"`,
    ...h.ops.map((op, i) => `${String(i).padStart(2)}. ${describeOp(op, h.instances.length)}`),
  ];
  return `\n${lines.join('\n')}\n`;
}

export function describeKey(k: KeySpec): string {
  const limit = k.apiLimit ? `, api2 limit ${describeLimits(k.apiLimit)}` : '';
  const policies = k.policies.length > 0 ? `, policies ${k.policies.join('+')}` : '';
  return `${describeLimits(k)}, rights "${RIGHTS[k.rights]!.name}"${limit}${policies}, ${k.expiresIn ? `expires in ${k.expiresIn} s` : 'never expires'}`;
}

export function describeRequests(requests: readonly RequestSpec[], instances: number): string {
  return requests
    .map(
      (r) =>
        `${r.who === 'jwt' ? 'jwt ' : ''}i${r.instance % instances} ${ROUTES[r.route]!.name}${r.hook ? ` (hook ${describeHook(r.hook)})` : ''}`,
    )
    .join(', ');
}

export function describeOp(op: Op, instances: number): string {
  switch (op.kind) {
    case 'batch':
      return `batch [${describeRequests(op.requests, instances)}]${op.alongside ? ` ‖ ${describeAdmin(op.alongside)}` : ''}`;
    case 'admin':
      return `${describeAdmin(op.op)}${op.loseAnswer ? ' (its answer lost)' : ''}`;
    case 'clock':
      return `${describeStep(op.step, instances)}${op.waitMs ? ` (and wait ${op.waitMs} ms)` : ''}`;
    case 'lose':
      return `lose the answers of the next ${op.count} write(s)`;
    case 'cool':
      return `cool the key down to ${op.to} counter item(s) (61 s, then a request on i${op.instance % instances}, until it is)`;
    case 'held':
      return (
        `hold ${describeRequests([op.request], instances)}'s ${op.write === 'any' ? 'first counting write' : `${op.write} write`}; ` +
        `${op.during.map((o) => describeOp(o, instances)).join('; ')}; let it go`
      );
    case 'recreate':
      return (
        `${op.resetInFlight ? 'POST reset-quota held after its read; ' : ''}${op.byTtl ? 'the key ends by its TTL' : 'DELETE key'}` +
        `${op.resendDelete ? ` (a DELETE${op.byTtl ? ' later' : ''} with If-Match: the version read)` : ''}; ` +
        `create it again (same key): ${describeKey(op.key)}; batch [${describeRequests(op.between, instances)}]` +
        `${op.resendDelete ? '; the same DELETE sent again' : ''}${op.resetInFlight ? '; the reset let go' : ''}; batch [${describeRequests(op.after, instances)}]`
      );
  }
}

export function describeAdmin(op: AdminOp): string {
  switch (op.kind) {
    case 'put':
      return op.limits
        ? `PUT key quotaMax ${op.limits.quotaMax}/${op.limits.quotaRenewalRate} s, rate ${op.limits.rate}`
        : 'PUT key (same limits, new alias)';
    case 'patch-quota':
      return `PATCH quotaMax ${op.quotaMax}`;
    case 'patch-renewal':
      return `PATCH quotaRenewalRate ${op.quotaRenewalRate}`;
    case 'patch-rate':
      return `PATCH rate ${op.rate}/${op.per} s`;
    case 'patch-policy':
      return `PATCH applyPolicies [${op.policies.join(', ')}]`;
    case 'patch-inactive':
      return `PATCH isInactive ${op.isInactive}`;
    case 'patch-rights':
      return `PATCH accessRights "${RIGHTS[op.rights]!.name}"`;
    case 'patch-api-limit':
      return op.limit ? `PATCH accessRights.api2.limit ${describeLimits(op.limit)}` : 'PATCH accessRights.api2 without a limit';
    case 'patch-expires':
      return `PATCH expires ${op.expiresIn === 0 ? 'never' : `now ${op.expiresIn >= 0 ? '+' : ''}${op.expiresIn} s`}`;
    case 'patch-meta':
      return `PATCH metaData {n: ${op.n}}`;
    case 'rotate':
      return 'POST rotate (90-day grace)';
    case 'reset':
      return 'POST reset-quota';
    case 'policy':
      return `PUT policy ${op.id} ${describeLimits(op.limits)}`;
  }
}

function describeHook(h: HookPatch): string {
  return 'quotaMax' in h ? `quotaMax ${h.quotaMax}` : `quotaRenewalRate ${h.quotaRenewalRate}`;
}

function describeStep(step: ClockStep, instances: number): string {
  if ('by' in step) return `clock +${step.by} ms`;
  if ('toEndOf' in step)
    return `clock to ${step.margin} ms ${step.side === 'inside' ? 'into the doubtful span of' : `${step.side}`} the ${step.toEndOf} window's end`;
  return `clock to ${step.margin} ms past i${step.pastPolicyCacheOf % instances}'s policy cache bound`;
}

function describeLimits(l: PolicySpec): string {
  return `quota ${l.quotaMax}/${l.quotaRenewalRate === 0 ? 'never renews' : `${l.quotaRenewalRate} s`}, rate ${l.rate === 0 ? 'none' : `${l.rate}/${l.per} s`}`;
}
