import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LocalConfigSchema, validate, type LocalConfig } from '../lambdas/core/model/config.ts';
import { ConfigError } from '../lambdas/core/model/errors.ts';

/** The config file `gatepass dev` reads when `--config` is not given. */
export const DEFAULT_CONFIG_FILE = 'gatepass.config.json';

export interface LoadedConfig {
  readonly config: LocalConfig;
  /** The file read, or undefined when none was there (defaults used). */
  readonly file: string | undefined;
}

/**
 * Loads and validates the local config file. Plugin entries are resolved against the
 * file's folder. Without `--config`, a missing `gatepass.config.json` means defaults; a
 * named file that is missing is an error.
 */
export function loadLocalConfig(file: string | undefined, cwd = process.cwd()): LoadedConfig {
  const target = path.resolve(cwd, file ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(target)) {
    if (file !== undefined) throw new ConfigError(`config file not found: ${target}`);
    return { config: validate(LocalConfigSchema, {}, 'defaults'), file: undefined };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(target, 'utf8'));
  } catch (cause) {
    throw new ConfigError(`${target} is not valid JSON`, { cause });
  }
  const config = validate(LocalConfigSchema, raw, target);
  const folder = path.dirname(target);
  return {
    config: { ...config, plugins: config.plugins.map((entry) => path.resolve(folder, entry)) },
    file: target,
  };
}
