import { REASONS, type Reason } from '../model/reasons.ts';
import { quotaRemaining, quotaRenews, rateRemaining } from '../limits/limits.ts';
import { countersOf } from '../limits/scope.ts';
import type { StoredSession } from '../store/item.ts';
import type { Governing } from './decide.ts';

import type { DecisionContext } from '../model/context.ts';

export type { ContextValue, DecisionContext } from '../model/context.ts';

/**
 * The outcome of an authorization: data, not an exception. Faults (DynamoDB, config,
 * plugins) are thrown instead, and the handler fails closed.
 */
export type Decision =
  | { readonly allow: true; readonly principalId: string; readonly context: DecisionContext }
  | {
      readonly allow: false;
      readonly reason: string;
      readonly message: string;
      readonly principalId?: string;
      /** The key id of the identity the denial is about, once one was identified. */
      readonly keyId?: string;
      readonly context: DecisionContext;
    };

export type Denial = Extract<Decision, { allow: false }>;

/** A denial with a reason from the table (and its message) plus extra context. */
export function deny(reason: Reason, extra: DecisionContext = {}, principalId?: string): Denial {
  return {
    allow: false,
    reason,
    message: REASONS[reason],
    ...(principalId === undefined ? {} : { principalId }),
    context: { ...extra, reason, message: REASONS[reason] },
  };
}

/** A plugin's denial: its own reason (default `plugin_denied`) and message. */
export function pluginDeny(denial: { reason: string; message: string }, principalId?: string): Denial {
  return {
    allow: false,
    reason: denial.reason,
    message: denial.message,
    ...(principalId === undefined ? {} : { principalId }),
    context: { reason: denial.reason, message: denial.message },
  };
}

/** Context names gatepass sets on an Allow; plugins cannot replace them. */
export const RESERVED_CONTEXT = new Set([
  'keyId',
  'alias',
  'quotaRemaining',
  'quotaMax',
  'quotaRenews',
  'expires',
  'rateLimit',
  'rateRemaining',
  'reason',
  'message',
  'principalId',
]);

/**
 * The context of an Allow: the session's key id, alias, the quota and rate state of the
 * counters that governed the request (as written by its counting write), and each
 * `metaData` entry as `meta_<name>`.
 */
export function allowContext(session: StoredSession, governing: Governing, nowMs: number): DecisionContext {
  const { limits, scope } = governing;
  const counters = countersOf(session, scope);
  const context: DecisionContext = {
    keyId: session.keyId,
    alias: session.alias ?? '',
    quotaRemaining: quotaRemaining(limits, counters, nowMs),
    quotaMax: limits.quotaMax,
    quotaRenews: quotaRenews(limits, counters),
    expires: session.expires,
    rateLimit: limits.rate,
    rateRemaining: rateRemaining(limits, counters, nowMs),
  };
  for (const [name, value] of Object.entries(session.metaData ?? {})) {
    context[`meta_${name}`] = value;
  }
  return context;
}
