/**
 * The admin side of a history: creates the policies and the key, runs admin and policy
 * writes through the real KeyService and PolicyStore, and reads back what they left —
 * the model learns the settings in force from public reads (never from stored counters).
 */
import type { KeyService } from '../../../lambdas/admin/key-service.ts';
import { NotFoundError } from '../../../lambdas/core/model/errors.ts';
import { parsePolicyInput } from '../../../lambdas/core/policies/policy.ts';
import type { PolicyStore } from '../../../lambdas/core/policies/policy-store.ts';
import type { AdminOp, KeySpec, PolicyChoice, PolicyName, PolicySpec } from './spec.ts';
import type { HistoryModel } from './model.ts';
import { RIGHTS, type Rights, SCOPED_API, withApiLimit } from './routes.ts';
import { type KeySettings, sameSettings } from './settings.ts';

export const POLICY_NAMES: readonly PolicyName[] = ['gold', 'free', 'perapi', 'plan'];

export interface AdminResult {
  readonly ok: boolean;
  readonly error?: string;
  /** The settings a successful write must leave (checked when it ran alone). */
  readonly intended?: Partial<KeySettings>;
}

export class AdminDriver {
  #aliases = 0;

  constructor(
    readonly keys: KeyService,
    readonly policies: PolicyStore,
    readonly prefix: string,
    readonly clock: () => number,
  ) {}

  policyId(name: PolicyChoice): string {
    return `${this.prefix}-${name}`;
  }

  applyPolicies(choices: readonly PolicyChoice[]): string[] {
    return choices.map((choice) => this.policyId(choice));
  }

  async createPolicies(specs: Readonly<Record<PolicyName, PolicySpec>>): Promise<void> {
    for (const name of POLICY_NAMES) await this.policies.put(this.policyId(name), policyFields(specs[name], name));
  }

  /** Creates the key (imported with `key` when given: a re-creation of the same raw key). */
  async createKey(spec: KeySpec, key?: string): Promise<{ key: string; keyId: string }> {
    const now = Math.floor(this.clock() / 1000);
    const created = await this.keys.create({
      ...(key === undefined ? {} : { key }),
      alias: `${this.prefix}-key`,
      quotaMax: spec.quotaMax,
      quotaRenewalRate: spec.quotaRenewalRate,
      rate: spec.rate,
      per: spec.per,
      accessRights: rightsOf(RIGHTS[spec.rights]!.rights, spec.apiLimit),
      applyPolicies: this.applyPolicies(spec.policies),
      expires: spec.expiresIn === 0 ? 0 : now + spec.expiresIn,
    });
    return { key: created.key, keyId: created.keyId };
  }

  /** Reads a policy back and records its version in the model (`at`: when it became the stored one). */
  async recordPolicy(model: HistoryModel, name: PolicyName, at: number): Promise<void> {
    const policy = await this.policies.get(this.policyId(name));
    if (policy === undefined) throw new Error(`history checker: policy ${name} vanished`);
    model.policies.record(this.policyId(name), policy.version, policy, at);
  }

  /** The key's settings as the admin API shows them; `undefined` when there is no key. */
  async readSettings(keyId: string): Promise<KeySettings | undefined> {
    try {
      const s = await this.keys.get(keyId);
      return {
        quotaMax: s.quotaMax,
        quotaRenewalRate: s.quotaRenewalRate,
        rate: s.rate,
        per: s.per,
        expires: s.expires,
        isInactive: s.isInactive,
        accessRights: s.accessRights,
        applyPolicies: [...s.applyPolicies],
      };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  kindOf(op: AdminOp): 'settings' | 'reset' | 'policy' {
    return op.kind === 'reset' || op.kind === 'policy' ? op.kind : 'settings';
  }

  /** Runs one admin write; a fault (a conflict, a lost answer, no key) is an outcome, not an exception. */
  async run(op: AdminOp, settings: KeySettings | undefined, keyId: string): Promise<AdminResult> {
    const now = Math.floor(this.clock() / 1000);
    try {
      switch (op.kind) {
        case 'put': {
          if (settings === undefined) return { ok: false, error: 'no key' };
          const body = { ...settings, alias: `${this.prefix}-${++this.#aliases}`, ...op.limits };
          await this.keys.replace(keyId, body);
          const { alias: _alias, ...intended } = body;
          return { ok: true, intended };
        }
        case 'patch-quota':
          return await this.#patch(keyId, { quotaMax: op.quotaMax });
        case 'patch-renewal':
          return await this.#patch(keyId, { quotaRenewalRate: op.quotaRenewalRate });
        case 'patch-rate':
          return await this.#patch(keyId, { rate: op.rate, per: op.per });
        case 'patch-policy':
          return await this.#patch(keyId, { applyPolicies: this.applyPolicies(op.policies) });
        case 'patch-inactive':
          return await this.#patch(keyId, { isInactive: op.isInactive });
        case 'patch-rights': {
          const limit = settings?.accessRights[SCOPED_API]?.limit;
          return await this.#patch(keyId, { accessRights: rightsOf(RIGHTS[op.rights]!.rights, limit as PolicySpec | undefined) });
        }
        case 'patch-api-limit':
          return await this.#patch(keyId, { accessRights: withApiLimit(settings?.accessRights ?? {}, op.limit) });
        case 'patch-expires':
          return await this.#patch(keyId, { expires: op.expiresIn === 0 ? 0 : now + op.expiresIn });
        case 'patch-meta':
          await this.keys.update(keyId, { metaData: { n: op.n } });
          return { ok: true };
        case 'rotate':
          await this.keys.rotate(keyId, { graceSeconds: ROTATION_GRACE_SECONDS });
          return { ok: true };
        case 'reset':
          await this.keys.resetQuota(keyId);
          return { ok: true };
        case 'policy':
          await this.policies.put(this.policyId(op.id), policyFields(op.limits, op.id));
          return { ok: true };
      }
    } catch (error) {
      const e = error as { code?: string; name?: string; message?: string };
      if (e.message?.startsWith('history checker')) throw error;
      return { ok: false, error: e.code ?? e.name ?? 'Error' };
    }
  }

  /**
   * Teaches the model what an admin write at `at` left. A policy version written alongside
   * a batch may land at any moment of it, so it is dated `at`; one written alone landed
   * before the next batch, so it is dated just before. A write that ran alone and answered
   * success must have left what it wrote.
   */
  async settle(model: HistoryModel, op: AdminOp, result: AdminResult, keyId: string, at: number, alone: boolean): Promise<string[]> {
    if (op.kind === 'policy') {
      await this.recordPolicy(model, op.id, alone ? at - 0.5 : at);
      const stored = model.policies.current(this.policyId(op.id))!.policy;
      const wanted = policyFields(op.limits, op.id);
      const part = (p: object) => {
        const { quotaMax, quotaRenewalRate, rate, per, accessRights } = p as Record<string, unknown>;
        return { quotaMax, quotaRenewalRate, rate, per, accessRights };
      };
      if (alone && result.ok && JSON.stringify(part(stored)) !== JSON.stringify(part(wanted))) {
        return [`policy ${op.id} was written with ${JSON.stringify(part(wanted))} but reads back ${JSON.stringify(part(stored))}`];
      }
      return [];
    }
    if (!alone) return [];
    if (op.kind === 'reset') {
      model.reset(at, result.ok);
      // A reset always moves the version: a hook write still on its way can no longer land; one that did is read back (model.ts).
      if (result.ok && model.inFlight.length > 0) model.landed(await this.readSettings(keyId));
      return [];
    }
    // A settings write may have changed nothing (no new version): a hook write on its way may still land after it.
    const after = await this.readSettings(keyId);
    model.settings = after;
    if (!result.ok || result.intended === undefined || after === undefined) return [];
    const wanted = { ...after, ...result.intended } as KeySettings;
    return sameSettings(after, wanted)
      ? []
      : [`the key was written with ${JSON.stringify(result.intended)} but reads back ${JSON.stringify(after)}`];
  }

  async #patch(keyId: string, patch: Partial<KeySettings>): Promise<AdminResult> {
    await this.keys.update(keyId, patch);
    return { ok: true, intended: patch };
  }
}

/** The longest grace a rotation takes: the key the requests use outlives every history's clock. */
const ROTATION_GRACE_SECONDS = 90 * 86_400;

/** A key's rights with its own api2 limit, if any (rights that do not list api2 then do). */
function rightsOf(rights: Rights, limit: PolicySpec | undefined): Rights {
  return limit === undefined ? rights : withApiLimit(rights, limit);
}

/** A policy's stored fields: `perapi` gives api2 a limit of its own; the others set limits and rights. */
export function policyFields(spec: PolicySpec, name: PolicyName) {
  const { quotaMax, quotaRenewalRate, rate, per } = spec;
  const body =
    name === 'perapi'
      ? { partitions: { perApi: true }, accessRights: { [SCOPED_API]: { limit: { quotaMax, quotaRenewalRate, rate, per } } } }
      : { quotaMax, quotaRenewalRate, rate, per, accessRights: POLICY_RIGHTS[name] };
  const parsed = parsePolicyInput(body);
  if (!parsed.success) throw new Error(`history checker: invalid policy ${name}: ${parsed.error.message}`);
  return parsed.data;
}

/** Rights of the policies that set them: `gold` and `plan` open, `free` read-only. */
const POLICY_RIGHTS: Readonly<Record<Exclude<PolicyName, 'perapi'>, Rights>> = {
  gold: RIGHTS[0]!.rights,
  free: RIGHTS[1]!.rights,
  plan: RIGHTS[0]!.rights,
};
