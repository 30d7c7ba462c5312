import type { Config } from './config.ts';
import { DEFAULT_TABLE_NAME } from './table.ts';

/**
 * Reads `GATEPASS_CONFIG` at a Lambda's cold start without loading zod when it can.
 *
 * The schema in `config.ts` is the one definition of a valid config. Loading zod and
 * building it is, measured, most of what gatepass adds to a cold start
 * (docs/BENCHMARKS.md, "Cold start"), yet most configs are a table name and a few numbers.
 * So a config without `jwt` is first checked here, by hand, against the same rules; only
 * when that check does not accept it — a `jwt` section, or anything wrong — is zod
 * imported, and the schema decides (and names every problem). The check accepts nothing
 * the schema refuses and returns what the schema would (`test/unit/core/load-config.test.ts`
 * holds it to that on generated configs), so which path ran never shows.
 *
 * @example
 * const config = await loadConfig(process.env.GATEPASS_CONFIG); // throws ConfigError when invalid
 */
export async function loadConfig(json: string | undefined, source = 'GATEPASS_CONFIG'): Promise<Config> {
  const plain = parsePlainConfig(json);
  if (plain !== undefined) return plain;
  const { parseConfig } = await import('./config.ts');
  return parseConfig(json, source);
}

/**
 * The config in `json` with its defaults when it has no `jwt` section and every field is
 * valid; `undefined` in every other case (then the schema must decide). Never throws.
 */
export function parsePlainConfig(json: string | undefined): Config | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json ?? '');
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const input = value as Record<string, unknown>;
  if (!Object.keys(input).every((field) => PLAIN_FIELDS.has(field))) return undefined;
  // Absent (JSON has no `undefined`) takes the default; `null` is a value, and refused.
  const field = (name: string, fallback: unknown): unknown => (input[name] === undefined ? fallback : input[name]);
  const config = {
    tableName: field('tableName', DEFAULT_TABLE_NAME),
    apiKeyHeader: field('apiKeyHeader', 'Authorization'),
    plugins: field('plugins', []),
    hookTimeoutMs: field('hookTimeoutMs', 1000),
    policyCacheSeconds: field('policyCacheSeconds', 10),
    resultsCacheTtl: field('resultsCacheTtl', 0),
    httpApiResponse: field('httpApiResponse', 'simple'),
    sessionRetentionSeconds: field('sessionRetentionSeconds', 2_592_000),
  } as Config;
  const valid =
    isString(config.tableName, 3, 255) &&
    isString(config.apiKeyHeader, 1, 128) &&
    /^[A-Za-z0-9-]+$/.test(config.apiKeyHeader) &&
    Array.isArray(config.plugins) &&
    config.plugins.every((plugin) => isString(plugin, 1, Infinity)) &&
    isInteger(config.hookTimeoutMs, 1, 30_000) &&
    isInteger(config.policyCacheSeconds, 0, 3600) &&
    isInteger(config.resultsCacheTtl, 0, 3600) &&
    (config.httpApiResponse === 'simple' || config.httpApiResponse === 'iam') &&
    isInteger(config.sessionRetentionSeconds, 0, Number.MAX_SAFE_INTEGER);
  // A copy of `plugins`, as the schema returns one.
  return valid ? { ...config, plugins: [...config.plugins] } : undefined;
}

/** The fields this check knows; any other (`jwt` included) leaves the decision to the schema. */
const PLAIN_FIELDS: ReadonlySet<string> = new Set([
  'tableName',
  'apiKeyHeader',
  'plugins',
  'hookTimeoutMs',
  'policyCacheSeconds',
  'resultsCacheTtl',
  'httpApiResponse',
  'sessionRetentionSeconds',
]);

function isString(value: unknown, min: number, max: number): value is string {
  return typeof value === 'string' && value.length >= min && value.length <= max;
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}
