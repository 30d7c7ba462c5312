/** Where a clock step of a history takes the shared clock (generator.ts, `ClockStep`). */
import type { ClockStep } from './spec.ts';
import type { HistoryModel } from './model.ts';
import { ROUTES } from './routes.ts';
import type { InstanceSpec } from './settings.ts';

/**
 * The shared clock after a step. A step aimed at a boundary goes there if it lies ahead,
 * else it moves the clock by 200 ms.
 */
export function nextTime(step: ClockStep, now: number, model: HistoryModel, instances: readonly InstanceSpec[]): number {
  if ('by' in step) return now + step.by;
  const offsets = instances.map((i) => i.offsetMs);
  let target: number;
  if ('toEndOf' in step) {
    const end = model.windowEnd(step.toEndOf, now, ROUTES[0]!);
    if (end === undefined) return now + 1000;
    const [endLo, endHi] = end;
    // Open for every instance while now + offset < endLo; over for every one once now + offset ≥ endHi.
    if (step.side === 'before') target = endLo - Math.max(...offsets) - step.margin;
    else if (step.side === 'after') target = endHi - Math.min(...offsets) + step.margin;
    else target = endLo - Math.max(...offsets) + (step.margin * (endHi - endLo + Math.max(...offsets) - Math.min(...offsets))) / 600;
  } else {
    const instance = instances[step.pastPolicyCacheOf % instances.length]!;
    const changed = model.policies.lastChange();
    if (changed === undefined) return now + 1000;
    target = changed + instance.cacheSeconds * 1000 + step.margin;
  }
  target = Math.round(target);
  return target > now ? target : now + 200;
}
