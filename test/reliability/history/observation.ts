/**
 * What the model is shown of a batch (model.ts): the requests as sent, their outcomes, the
 * answers lost, an admin write alongside, the settings read back after it, and in hot
 * histories the counter items read around it — and what it answers.
 */
import type { LeaseView } from './hot-keys.ts';
import type { Route } from './routes.ts';
import type { KeySettings } from './settings.ts';

/** The subject a request authenticates as: the API key, or the JWT identity. */
export type Who = 'key' | 'jwt';

/** A decision, or the fault a request failed closed with. */
export type Outcome = { readonly allow: true } | { readonly allow: false; readonly reason: string } | { readonly error: string };

/** What the settings hook writes for a request that asks it to (hooks.ts). */
export type HookPatch = { readonly quotaRenewalRate: number } | { readonly quotaMax: number };

/** One authorization of a batch: the instance that decides it, the route and the subject. */
export interface BatchRequest {
  readonly instance: number;
  readonly route: Route;
  readonly who: Who;
  /** Asks the settings hook (on instances that run it) to write this. */
  readonly hook?: HookPatch;
}

/** One batch as the model sees it. */
export interface BatchObservation {
  readonly at: number;
  readonly requests: readonly BatchRequest[];
  readonly outcomes: readonly Outcome[];
  /** Answers lost while the batch ran. */
  readonly lost: number;
  /** An admin write that ran alongside, and whether it answered success. */
  readonly alongside?: { readonly kind: 'settings' | 'reset' | 'policy'; readonly ok: boolean };
  /** The key's settings read back after the batch (`undefined`: no key). */
  readonly settingsAfter: KeySettings | undefined;
  /** A subject's counter items read just before and just after the batch (hot-keys.ts), in histories with hot keys. */
  readonly leases?: Partial<Record<Who, { readonly before: LeaseView; readonly after: LeaseView }>>;
  /**
   * The batch is one held request (held-requests.ts), observed when it was let go (`at`):
   * held since `since` (shared clock), when the key's settings were `settings`. See
   * `HistoryModel.batch` (model.ts) for what the model accepts of it.
   */
  readonly held?: { readonly since: number; readonly settings: KeySettings | undefined };
}

/** The model's answer on a batch: what broke its bounds, a line for the trace, and whether it predicted the batch exactly. */
export interface Verdict {
  readonly violations: string[];
  readonly summary: string;
  readonly clean: boolean;
}
