/**
 * The model's slack for denials an instance repeats from memory (docs/ARCHITECTURE.md: a
 * hammered key's rate or quota denial is repeated for up to a second per instance, keyed by
 * the settings version the instance decided on; a hot key's lease code may deny on a session
 * item it saw less than a second ago). "A reset or raise is seen up to one second late": a
 * reset and a policy write leave the version as it was, and a settings write or a
 * re-creation is not seen by an instance that decides on the settings it remembers — so for up to a second after
 * any of them, a denial may be stale:
 *
 * - repeated from memory: the subject had at least two rate/quota denials on one instance
 *   in the second before the change (or since), and the batch is less than a second of
 *   shared-clock time after it (denial and batch are on the same instance's clock);
 * - from a session item seen moments ago: the subject is spread over counter items, and the
 *   batch is less than a second of real time after the change (that memory runs on real time).
 *
 * Such a batch is uncertain for liveness; safety stays exact (a memory never allows).
 */
import type { Who } from './observation.ts';

/** How long a denial may be repeated from memory, ms (the design's bound). */
export const STALE_DENIAL_MS = 1000;
/** Denials on one instance before the next are repeated from memory. */
const DENIALS_BEFORE_REPEATING = 2;

export class StaleDenials {
  /** Per subject: rate/quota denials as [instance, shared-clock ms]. */
  readonly #denials: Record<Who, [number, number][]> = { key: [], jwt: [] };
  /** Per subject: the last change (shared-clock ms, real ms). */
  readonly #changes: Partial<Record<Who, { readonly at: number; readonly real: number; readonly spread: boolean }>> = {};

  constructor(readonly realClock: () => number = Date.now) {}

  /** Rate/quota denials of a batch at `at`, by instance. */
  denied(who: Who, at: number, instances: readonly number[]): void {
    const kept = this.#denials[who].filter(([, t]) => t > at - 2 * STALE_DENIAL_MS);
    this.#denials[who] = [...kept, ...instances.map((i): [number, number] => [i, at])];
  }

  /**
   * A reset, a settings write, a policy write or a re-creation at `at` (shared clock): `who`'s
   * denials may be stale for a second. `spread`: the subject was spread before it (a key
   * deleted and made again is not, but an instance may still deny on the old one's session
   * item it saw moments ago).
   */
  changed(who: Who, at: number, spread = false): void {
    this.#changes[who] = { at, real: this.realClock(), spread };
  }

  /** Why a batch of `who` at `at` may meet a stale denial (undefined: it cannot). */
  doubt(who: Who, at: number, spread: boolean): string | undefined {
    const change = this.#changes[who];
    if (change === undefined) return undefined;
    if ((spread || change.spread) && this.realClock() - change.real < STALE_DENIAL_MS)
      return 'a spread key seen before a reset/raise < 1 s ago';
    if (at - change.at >= STALE_DENIAL_MS) return undefined;
    const perInstance = new Map<number, number>();
    for (const [instance, t] of this.#denials[who]) {
      if (t >= change.at - STALE_DENIAL_MS) perInstance.set(instance, (perInstance.get(instance) ?? 0) + 1);
    }
    return [...perInstance.values()].some((n) => n >= DENIALS_BEFORE_REPEATING)
      ? 'a denial remembered before a reset/raise < 1 s ago'
      : undefined;
  }
}
