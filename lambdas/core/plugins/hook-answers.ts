import { PluginError } from '../model/errors.ts';
import type { DecisionContext } from '../model/context.ts';
import type { Log } from '../model/log.ts';
import type { GatepassPlugin, HookDenial } from './plugin.ts';

/**
 * What a hook answers, checked, and what it is given: the parts of running hooks that need
 * no session and no store.
 */

/** A plugin's denial, checked: a snake_case reason and a message safe to put in a JSON template. */
export interface PluginDenial {
  readonly reason: string;
  readonly message: string;
}

const REASON = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * A hook's `{ deny }`, checked. The message is placed unescaped into API Gateway's
 * ACCESS_DENIED JSON template, so quotes, backslashes and control characters are removed.
 */
export function readDenial(plugin: GatepassPlugin, result: unknown): PluginDenial | undefined {
  if (result === null || typeof result !== 'object' || !('deny' in result)) return undefined;
  const deny = (result as HookDenial).deny as { reason?: unknown; message?: unknown } | undefined;
  if (!deny || typeof deny.message !== 'string') {
    throw new PluginError(plugin.name, 'deny must be { reason?, message: string }');
  }
  const reason = deny.reason ?? 'plugin_denied';
  if (typeof reason !== 'string' || !REASON.test(reason)) {
    throw new PluginError(plugin.name, `deny reason must be snake_case, got ${JSON.stringify(reason)}`);
  }
  return { reason, message: sanitizeMessage(deny.message) };
}

/**
 * A `post` hook's `{ context }`, checked: values API Gateway accepts (string, number,
 * boolean). Names that are gatepass's own (`reserved`, `meta_*`) are left out, with a warning.
 */
export function readContext(plugin: GatepassPlugin, additions: unknown, reserved: ReadonlySet<string>, log: Log): DecisionContext {
  if (additions === null || typeof additions !== 'object' || Array.isArray(additions)) {
    throw new PluginError(plugin.name, 'post must answer { context: { name: string | number | boolean } }');
  }
  const out: DecisionContext = {};
  for (const [name, value] of Object.entries(additions)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw new PluginError(plugin.name, `context value ${name} must be a string, number or boolean`);
    }
    if (reserved.has(name) || name.startsWith('meta_')) {
      tagged(log, plugin.name).warn("context value ignored: the name is gatepass's own", { name });
      continue;
    }
    out[name] = value as string | number | boolean;
  }
  return out;
}

export function sanitizeMessage(message: string): string {
  return message.replace(/["\\\u0000-\u001f\u007f]/g, '').slice(0, 256);
}

/** A logger that tags every line with the plugin's name. */
export function tagged(log: Log, plugin: string): Log {
  const tag = (extra: Record<string, unknown>[]) => [{ plugin, ...Object.assign({}, ...extra) }];
  return {
    debug: (message, ...extra) => log.debug(message, ...tag(extra)),
    info: (message, ...extra) => log.info(message, ...tag(extra)),
    warn: (message, ...extra) => log.warn(message, ...tag(extra)),
    error: (message, ...extra) => log.error(message, ...tag(extra)),
  };
}
