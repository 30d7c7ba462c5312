/**
 * How a history prints: a numbered list of its operations, so that a shrunk counterexample
 * reads as a script (fast-check prints it through `fc.toStringMethod`).
 */
import type { AdminOp, ClockStep, HistorySpec, Op, PolicySpec } from './generator.ts';
import { RIGHTS, ROUTES } from './routes.ts';

export function describeHistory(h: HistorySpec): string {
  const lines = [
    `instances: ${h.instances.map((i, n) => `i${n} (+${i.offsetMs} ms, policy cache ${i.cacheSeconds} s${i.renews ? ', renewal hook' : ''})`).join('; ')}`,
    `key: ${describeLimits(h.key)}, rights "${RIGHTS[h.key.rights]!.name}", policy ${h.key.policy}, ${h.key.expiresIn ? `expires in ${h.key.expiresIn} s` : 'never expires'}`,
    `policies: gold ${describeLimits(h.policies.gold)}; free ${describeLimits(h.policies.free)}`,
    ...h.ops.map((op, i) => `${String(i).padStart(2)}. ${describeOp(op, h.instances.length)}`),
  ];
  return `\n${lines.join('\n')}\n`;
}

export function describeOp(op: Op, instances: number): string {
  switch (op.kind) {
    case 'batch': {
      const requests = op.requests.map((r) => `i${r.instance % instances} ${ROUTES[r.route]!.name}`).join(', ');
      return `batch [${requests}]${op.alongside ? ` ‖ ${describeAdmin(op.alongside)}` : ''}`;
    }
    case 'admin':
      return describeAdmin(op.op);
    case 'clock':
      return describeStep(op.step, instances);
    case 'lose':
      return `lose the answers of the next ${op.count} write(s)`;
  }
}

export function describeAdmin(op: AdminOp): string {
  switch (op.kind) {
    case 'put':
      return op.limits ? `PUT key quotaMax ${op.limits.quotaMax}, rate ${op.limits.rate}` : 'PUT key (same limits, new alias)';
    case 'patch-quota':
      return `PATCH quotaMax ${op.quotaMax}`;
    case 'patch-rate':
      return `PATCH rate ${op.rate}/${op.per} s`;
    case 'patch-policy':
      return `PATCH applyPolicies ${op.policy}`;
    case 'patch-inactive':
      return `PATCH isInactive ${op.isInactive}`;
    case 'patch-rights':
      return `PATCH accessRights "${RIGHTS[op.rights]!.name}"`;
    case 'patch-expires':
      return `PATCH expires ${op.expiresIn === 0 ? 'never' : `now ${op.expiresIn >= 0 ? '+' : ''}${op.expiresIn} s`}`;
    case 'reset':
      return 'POST reset-quota';
    case 'policy':
      return `PUT policy ${op.id} quotaMax ${op.quotaMax}, rate ${op.rate}`;
  }
}

function describeStep(step: ClockStep, instances: number): string {
  if ('by' in step) return `clock +${step.by} ms`;
  if ('toEndOf' in step)
    return `clock to ${step.margin} ms ${step.side === 'inside' ? 'into the doubtful span of' : `${step.side}`} the ${step.toEndOf} window's end`;
  return `clock to ${step.margin} ms past i${step.pastPolicyCacheOf % instances}'s policy cache bound`;
}

function describeLimits(l: PolicySpec): string {
  return `quota ${l.quotaMax}/${l.quotaRenewalRate} s, rate ${l.rate === 0 ? 'none' : `${l.rate}/${l.per} s`}`;
}
