/**
 * The admin side of a history: creates the policies and the key, runs admin and policy
 * writes through the real KeyService and PolicyStore, and reads back what they left —
 * the model learns the settings in force from public reads (never from stored counters).
 */
import type { KeyService } from '../../../lambdas/admin/key-service.ts';
import { parsePolicyInput } from '../../../lambdas/core/policies/policy.ts';
import type { PolicyStore } from '../../../lambdas/core/policies/policy-store.ts';
import type { AdminOp, KeySpec, PolicyChoice, PolicyName, PolicySpec } from './generator.ts';
import type { HistoryModel } from './model.ts';
import { POLICY_RIGHTS, RIGHTS } from './routes.ts';
import { sameSettings, type KeySettings } from './settings.ts';

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

  policyId(name: PolicyName | 'missing'): string {
    return `${this.prefix}-${name}`;
  }

  applyPolicies(choice: PolicyChoice): string[] {
    return choice === 'none' ? [] : [this.policyId(choice)];
  }

  async createPolicies(specs: Readonly<Record<PolicyName, PolicySpec>>): Promise<void> {
    for (const name of ['gold', 'free'] as const) await this.policies.put(this.policyId(name), policyFields(specs[name], name));
  }

  async createKey(spec: KeySpec): Promise<{ key: { key: string; keyId: string }; settings: KeySettings }> {
    const now = Math.floor(this.clock() / 1000);
    const created = await this.keys.create({
      alias: `${this.prefix}-key`,
      quotaMax: spec.quotaMax,
      quotaRenewalRate: spec.quotaRenewalRate,
      rate: spec.rate,
      per: spec.per,
      accessRights: RIGHTS[spec.rights]!.rights,
      applyPolicies: this.applyPolicies(spec.policy),
      expires: spec.expiresIn === 0 ? 0 : now + spec.expiresIn,
    });
    return { key: { key: created.key, keyId: created.keyId }, settings: await this.readSettings(created.keyId) };
  }

  /** Reads a policy back and records its version in the model (`at`: when it became the stored one). */
  async recordPolicy(model: HistoryModel, name: PolicyName, at: number): Promise<void> {
    const policy = await this.policies.get(this.policyId(name));
    if (policy === undefined) throw new Error(`history checker: policy ${name} vanished`);
    const limits = {
      quotaMax: required(policy.quotaMax),
      quotaRenewalRate: required(policy.quotaRenewalRate),
      rate: required(policy.rate),
      per: required(policy.per),
    };
    model.policies.record(this.policyId(name), policy.version, limits, policy.accessRights, at);
  }

  async readSettings(keyId: string): Promise<KeySettings> {
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
  }

  kindOf(op: AdminOp): 'settings' | 'reset' | 'policy' {
    return op.kind === 'reset' || op.kind === 'policy' ? op.kind : 'settings';
  }

  /** Runs one admin write; a fault (a conflict with a renewal, a lost answer) is an outcome, not an exception. */
  async run(op: AdminOp, settings: KeySettings, keyId: string): Promise<AdminResult> {
    const now = Math.floor(this.clock() / 1000);
    try {
      switch (op.kind) {
        case 'put': {
          const body = { ...settings, alias: `${this.prefix}-${++this.#aliases}`, ...op.limits };
          await this.keys.replace(keyId, body);
          const { alias: _alias, ...intended } = body;
          return { ok: true, intended };
        }
        case 'patch-quota':
          return await this.#patch(keyId, { quotaMax: op.quotaMax });
        case 'patch-rate':
          return await this.#patch(keyId, { rate: op.rate, per: op.per });
        case 'patch-policy':
          return await this.#patch(keyId, { applyPolicies: this.applyPolicies(op.policy) });
        case 'patch-inactive':
          return await this.#patch(keyId, { isInactive: op.isInactive });
        case 'patch-rights':
          return await this.#patch(keyId, { accessRights: RIGHTS[op.rights]!.rights });
        case 'patch-expires':
          return await this.#patch(keyId, { expires: op.expiresIn === 0 ? 0 : now + op.expiresIn });
        case 'reset':
          await this.keys.resetQuota(keyId);
          return { ok: true };
        case 'policy': {
          const current = await this.policies.get(this.policyId(op.id));
          if (current === undefined) throw new Error(`policy ${op.id} vanished`);
          const spec = {
            quotaMax: op.quotaMax,
            quotaRenewalRate: required(current.quotaRenewalRate),
            rate: op.rate,
            per: required(current.per),
          };
          await this.policies.put(this.policyId(op.id), policyFields(spec, op.id));
          return { ok: true };
        }
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
      const stored = model.policies.current(this.policyId(op.id))!;
      if (alone && result.ok && (stored.limits.quotaMax !== op.quotaMax || stored.limits.rate !== op.rate)) {
        return [
          `policy ${op.id} was written with quotaMax ${op.quotaMax}, rate ${op.rate} but reads back ${JSON.stringify(stored.limits)}`,
        ];
      }
      return [];
    }
    if (!alone) return [];
    if (op.kind === 'reset') {
      model.reset(at, result.ok);
      return [];
    }
    const after = await this.readSettings(keyId);
    model.settings = after;
    if (!result.ok || result.intended === undefined) return [];
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

function policyFields(spec: PolicySpec, name: PolicyName) {
  const parsed = parsePolicyInput({ ...spec, accessRights: POLICY_RIGHTS[name] });
  if (!parsed.success) throw new Error(`history checker: invalid policy ${name}: ${parsed.error.message}`);
  return parsed.data;
}

function required(value: number | undefined): number {
  if (value === undefined) throw new Error('history checker: a policy lost one of its limits');
  return value;
}
