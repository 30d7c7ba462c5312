/**
 * The vocabulary of a random history (what generator.ts draws and the harness runs): the key,
 * its policies, the instances, and the operations — batches of authorizations, admin and
 * policy writes, clock steps, lost answers, held writes, re-creations.
 */
import type { HeldWrite } from './held-requests.ts';
import type { HookPatch, Who } from './observation.ts';
import type { ApiLimitSpec } from './routes.ts';
import type { InstanceSpec } from './settings.ts';

/**
 * `gold` is generous and open, `free` small and read-only, `perapi` a per-API policy
 * (`partitions.perApi`) giving api2 a limit of its own, `plan` the JWT identity's plan.
 */
export type PolicyName = 'gold' | 'free' | 'perapi' | 'plan';
/** A policy a key may name: one of the history's, or one that does not exist. */
export type PolicyChoice = PolicyName | 'missing';

export interface PolicySpec {
  readonly quotaMax: number;
  readonly quotaRenewalRate: number;
  readonly rate: number;
  readonly per: number;
}

export interface KeySpec extends PolicySpec {
  /** Index in RIGHTS. */
  readonly rights: number;
  /** Its own limit for api2, if any. */
  readonly apiLimit?: ApiLimitSpec;
  readonly policies: readonly PolicyChoice[];
  /** Seconds from creation; 0 = never expires. */
  readonly expiresIn: number;
}

export type AdminOp =
  | { readonly kind: 'put'; readonly limits?: { readonly quotaMax: number; readonly rate: number; readonly quotaRenewalRate: number } }
  | { readonly kind: 'patch-quota'; readonly quotaMax: number }
  | { readonly kind: 'patch-renewal'; readonly quotaRenewalRate: number }
  | { readonly kind: 'patch-rate'; readonly rate: number; readonly per: number }
  | { readonly kind: 'patch-policy'; readonly policies: readonly PolicyChoice[] }
  | { readonly kind: 'patch-inactive'; readonly isInactive: boolean }
  | { readonly kind: 'patch-rights'; readonly rights: number }
  | { readonly kind: 'patch-api-limit'; readonly limit?: ApiLimitSpec }
  | { readonly kind: 'patch-expires'; readonly expiresIn: number }
  /** A change that names no limit: a hot key's leases stay with it. */
  | { readonly kind: 'patch-meta'; readonly n: number }
  /** A rotation; the requests keep using the key they have (its grace outlasts any history). */
  | { readonly kind: 'rotate' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'policy'; readonly id: PolicyName; readonly limits: PolicySpec };

export interface RequestSpec {
  /** Taken modulo the number of instances. */
  readonly instance: number;
  /** Index in ROUTES. */
  readonly route: number;
  readonly who: Who;
  /** What the settings hook writes, on instances that run it. */
  readonly hook?: HookPatch;
}

/**
 * A clock step: by a fixed amount, or aimed at a boundary the model knows — just before a
 * window end (every instance still sees the window open), just after it (every instance
 * sees it over), inside the span where the instances' clocks disagree, or just past the
 * end of a policy cache's bound after the last policy write.
 */
export type ClockStep =
  | { readonly by: number }
  | { readonly toEndOf: 'quota' | 'rate'; readonly side: 'before' | 'inside' | 'after'; readonly margin: number }
  | { readonly pastPolicyCacheOf: number; readonly margin: number };

export type Op =
  | { readonly kind: 'batch'; readonly requests: readonly RequestSpec[]; readonly alongside?: AdminOp; readonly delayMs: number }
  | { readonly kind: 'admin'; readonly op: AdminOp; readonly loseAnswer?: boolean }
  /** A clock step; `waitMs`: real time waited too (an instance's memory of a session item runs on real time). */
  | { readonly kind: 'clock'; readonly step: ClockStep; readonly waitMs?: number }
  | { readonly kind: 'lose'; readonly count: number }
  /** A spread key cooled down to `to` counter items at most: 61 s later, one request on `instance`, again (up to 10 times). */
  | { readonly kind: 'cool'; readonly instance: number; readonly to: number }
  /**
   * One request of one instance whose counting write (`write`, held-requests.ts) is held
   * while `during` runs (its requests on other instances), then let go: one request,
   * decided when its write lands.
   */
  | { readonly kind: 'held'; readonly request: RequestSpec; readonly write: HeldWrite; readonly during: readonly Op[] }
  /**
   * DELETE the key and create it again with the same raw key; with `resetInFlight`, a
   * reset-quota that read the old key is held before its write until the new key has
   * served `between`, then let go, and `after` is asked. With `resendDelete`, the DELETE
   * carries the `If-Match` of the version read before it, and is sent again with it after
   * `between` (an admin re-sending after a lost answer): it must not delete the new key.
   */
  | {
      readonly kind: 'recreate';
      readonly key: KeySpec;
      /** The old key ends by its TTL (DynamoDB deletes the session item and writes nothing else) instead of a DELETE. */
      readonly byTtl?: boolean;
      readonly resetInFlight: boolean;
      readonly resendDelete?: boolean;
      readonly between: readonly RequestSpec[];
      readonly after: readonly RequestSpec[];
    };

export interface HistorySpec {
  /** W of the per-item throughput ceiling the instances' clients run under (hot-keys.ts); none in most histories. */
  readonly hot?: number;
  readonly instances: readonly InstanceSpec[];
  readonly key: KeySpec;
  readonly policies: Readonly<Record<PolicyName, PolicySpec>>;
  readonly ops: readonly Op[];
}
