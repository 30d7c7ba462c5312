import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginError } from '../model/errors.ts';
import type { GatepassPlugin } from './plugin.ts';

/** Where plugin layers put their bundles in Lambda: `/opt/gatepass/plugins/<name>.mjs`. */
export const LAYER_PLUGIN_DIR = '/opt/gatepass/plugins';

const HOOKS = ['pre', 'auth', 'postAuth', 'post'] as const;

/**
 * Where a `plugins` entry is loaded from. A bare name (`renew-on-expiry`) is a layer
 * bundle in `dir`; anything that looks like a path (`./plugins/x.ts`, `/abs/x.mjs`) is
 * that file. ESM `import()` ignores NODE_PATH, so layers are loaded by absolute path.
 */
export function pluginPath(entry: string, dir = LAYER_PLUGIN_DIR): string {
  const looksLikePath = entry.includes('/') || entry.includes('\\') || /\.(m?[jt]s|cjs)$/.test(entry);
  return looksLikePath ? path.resolve(entry) : path.join(dir, `${entry}.mjs`);
}

/**
 * Imports the plugins in the given order and checks each default export. A plugin that
 * fails to load is a {@link PluginError}: the authorizer then fails every request closed.
 *
 * @example
 * const plugins = await loadPlugins(['renew-on-expiry']); // /opt/gatepass/plugins/renew-on-expiry.mjs
 */
export async function loadPlugins(entries: readonly string[], dir = LAYER_PLUGIN_DIR): Promise<GatepassPlugin[]> {
  const plugins: GatepassPlugin[] = [];
  for (const entry of entries) {
    const file = pluginPath(entry, dir);
    let module: { default?: unknown };
    try {
      module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (cause) {
      throw new PluginError(entry, `failed to load from ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    plugins.push(checkPlugin(entry, defaultExport(module)));
  }
  const names = plugins.map((p) => p.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new PluginError(duplicate, 'is configured twice');
  return plugins;
}

/**
 * The module's default export. A plugin written as ESM but compiled to CommonJS (a
 * TypeScript file outside a `"type": "module"` package, loaded locally) arrives as
 * `{ default: { default: plugin } }`: its `exports.default` is the plugin.
 */
function defaultExport(module: { default?: unknown }): unknown {
  const value = module.default;
  if (value !== null && typeof value === 'object' && !('name' in value) && 'default' in value) {
    return (value as { default: unknown }).default;
  }
  return value;
}

function checkPlugin(entry: string, value: unknown): GatepassPlugin {
  if (value === null || typeof value !== 'object') throw new PluginError(entry, 'has no default export object');
  const plugin = value as Record<string, unknown>;
  if (typeof plugin.name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(plugin.name)) {
    throw new PluginError(entry, 'needs a `name` of lower-case letters, digits and dashes');
  }
  for (const hook of HOOKS) {
    if (plugin[hook] !== undefined && typeof plugin[hook] !== 'function') {
      throw new PluginError(plugin.name, `${hook} must be a function`);
    }
  }
  if (!HOOKS.some((hook) => typeof plugin[hook] === 'function')) throw new PluginError(plugin.name, 'defines no hook');
  return value as GatepassPlugin;
}
