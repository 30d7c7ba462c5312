import type { BatchObservation, BatchRequest } from './observation.ts';
import { isExpiredAt, sameSettings, type InstanceSpec, type KeySettings } from './settings.ts';

/**
 * The key's settings the model cannot pin down: those a batch's hooks (a settings hook, a
 * renewing one) may write while it runs, and hook writes asked by requests that failed closed,
 * which may still be on their way — such a write may land after the settings are read back,
 * in any later batch, until a change that certainly moved the version (a reset) is read back
 * or the key is made again.
 */
export class SettingsInDoubt {
  #inFlight: Partial<KeySettings>[] = [];

  constructor(readonly instances: readonly InstanceSpec[]) {}

  /** Hook writes of the key that may still land. */
  get inFlight(): readonly Partial<KeySettings>[] {
    return this.#inFlight;
  }

  /** No write still on its way can land any more (a reset landed and was read back, or the key was made again). */
  settled(): void {
    this.#inFlight = [];
  }

  /** Whether a hook may change the key's settings (`settings` now) during a batch of `requests` at `at`. */
  mayWrite(settings: KeySettings | undefined, requests: readonly BatchRequest[], at: number): boolean {
    return requests.some((r) => {
      const instance = this.instances[r.instance]!;
      if (r.who !== 'key') return false;
      return (
        (instance.hooks && r.hook !== undefined) ||
        (settings !== undefined && instance.renews && isExpiredAt(settings.expires, at + instance.offsetMs))
      );
    });
  }

  /**
   * The key's hook writes of the batch that may still be on their way: those of requests that
   * failed closed. A request answers once its hook's write has answered, except when it fails
   * closed — then the write may land later, after the settings are read back.
   */
  keepInFlight(o: BatchObservation, possible: readonly (KeySettings | undefined)[]): void {
    const add = (patch: Partial<KeySettings>) => {
      if (!this.#inFlight.some((p) => JSON.stringify(p) === JSON.stringify(patch))) this.#inFlight.push(patch);
    };
    for (const [i, r] of o.requests.entries()) {
      const instance = this.instances[r.instance]!;
      if (r.who !== 'key' || !('error' in o.outcomes[i]!)) continue;
      const nowMs = o.at + instance.offsetMs;
      if (instance.hooks && r.hook !== undefined) add(r.hook);
      if (instance.renews && possible.some((s) => s !== undefined && isExpiredAt(s.expires, nowMs)))
        add({ expires: Math.floor(nowMs / 1000) + 60 });
    }
  }

  /** The key's settings that may be in force during the batch: `before`, after, renewed, each hook's write alone, and each still on its way. */
  possible(before: KeySettings | undefined, o: BatchObservation): (KeySettings | undefined)[] {
    const possible: (KeySettings | undefined)[] = [before];
    const add = (s: KeySettings | undefined) => {
      if (!possible.some((p) => p === s || (p !== undefined && s !== undefined && sameSettings(p, s)))) possible.push(s);
    };
    add(o.settingsAfter);
    if (o.held !== undefined) add(o.held.settings);
    // A hook write of an earlier batch still on its way may land at any moment of this one.
    for (const patch of this.#inFlight) for (const s of [...possible]) if (s !== undefined) add({ ...s, ...patch });
    for (const r of o.requests) {
      const instance = this.instances[r.instance]!;
      if (r.who !== 'key') continue;
      const nowMs = o.at + instance.offsetMs;
      for (const s of [...possible]) {
        if (s === undefined) continue;
        if (instance.renews && isExpiredAt(s.expires, nowMs)) add({ ...s, expires: Math.floor(nowMs / 1000) + 60 });
        if (instance.hooks && r.hook !== undefined) add({ ...s, ...r.hook });
      }
    }
    return possible;
  }
}
