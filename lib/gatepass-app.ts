import { Duration, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Node } from 'constructs';
import type { GatepassConfigProps, GatepassJwtConfig } from './gatepass-config.ts';
import { GatepassStack, type GatepassStackProps } from './gatepass-stack.ts';
import type { PluginLayerProps } from './plugin-layer.ts';

/**
 * The CDK app of `bin/app.ts`: one {@link GatepassStack} (construct id `Gatepass`) configured
 * from the app's context, checked by cdk-nag's AwsSolutions pack on every synth (an
 * unacknowledged error fails the synth).
 *
 * @example
 * buildGatepassApp(new App());
 */
export function buildGatepassApp(app: App): GatepassStack {
  const stack = new GatepassStack(app, 'Gatepass', {
    ...gatepassStackPropsFromContext(app.node),
    description: 'gatepass: a strongly consistent Lambda authorizer for API Gateway',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

/**
 * The context keys the CDK app (`bin/app.ts`) reads, from `cdk.json` or `-c key=value`. On
 * the command line every value is a string: lists may be comma-separated or JSON, objects
 * JSON. docs/DEPLOY.md lists them with examples.
 */
export const CONTEXT_KEYS = [
  'stackName',
  'tableName',
  'restApiIds',
  'gatewayResponses',
  'gatewayResponseHeaders',
  'wwwAuthenticate',
  'otherAuthorizers',
  'jwt',
  'apiKeyHeader',
  'plugins',
  'resultsCacheTtl',
  'tracing',
  'reservedConcurrency',
] as const;

/**
 * The stack's props from the app's context. Values are checked for their shape here; the
 * config schema then checks their content (a bad `jwt` fails synth, naming the field).
 *
 * @example
 * // npx cdk deploy -c restApiIds=a1b2c3d4e5 -c plugins=examples/plugins/renew-on-expiry.ts
 * new GatepassStack(app, 'Gatepass', gatepassStackPropsFromContext(app.node));
 */
export function gatepassStackPropsFromContext(node: Node): GatepassStackProps & { readonly stackName: string } {
  const get = (key: (typeof CONTEXT_KEYS)[number]): unknown => {
    const value: unknown = node.tryGetContext(key);
    return value === null || value === '' ? undefined : value;
  };
  const config: Omit<GatepassConfigProps, 'plugins'> = {
    ...optional('jwt', asObject('jwt', get('jwt')) as GatepassJwtConfig | undefined),
    ...optional('apiKeyHeader', asString('apiKeyHeader', get('apiKeyHeader'))),
  };
  const ttl = asCount('resultsCacheTtl', get('resultsCacheTtl'));
  const responseHeaders = asObject('gatewayResponseHeaders', get('gatewayResponseHeaders'));
  for (const [name, value] of Object.entries(responseHeaders ?? {})) asString(`gatewayResponseHeaders.${name}`, value);
  const gatewayResponseOptions = {
    ...optional('headers', responseHeaders as Record<string, string> | undefined),
    ...optional('wwwAuthenticate', asString('wwwAuthenticate', get('wwwAuthenticate'))),
    ...optional('otherAuthorizers', asBoolean('otherAuthorizers', get('otherAuthorizers'))),
  };
  return {
    stackName: asString('stackName', get('stackName')) ?? 'Gatepass',
    ...optional('tableName', asString('tableName', get('tableName'))),
    restApiIds: (asList('restApiIds', get('restApiIds')) ?? []).map((id) => asString('restApiIds', id) as string),
    ...optional('gatewayResponses', asBoolean('gatewayResponses', get('gatewayResponses'))),
    gatewayResponseOptions,
    config,
    plugins: (asList('plugins', get('plugins')) ?? []).map((entry) => asPlugin(entry)),
    ...optional('resultsCacheTtl', ttl === undefined ? undefined : Duration.seconds(ttl)),
    ...optional('tracing', asBoolean('tracing', get('tracing'))),
    ...optional('reservedConcurrency', asCount('reservedConcurrency', get('reservedConcurrency'))),
  };
}

/** `{[key]: value}`, or nothing when the value is undefined (so that defaults apply). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function fail(key: string, expected: string, value: unknown): never {
  throw new Error(`gatepass: context "${key}" must be ${expected}, got ${JSON.stringify(value)}`);
}

function asString(key: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return fail(key, 'a string', value);
}

function asBoolean(key: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return fail(key, 'true or false', value);
}

function asCount(key: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0) return n;
  return fail(key, 'a whole number of at least 0', value);
}

function parseJson(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return fail(key, 'valid JSON', value);
  }
}

function asObject(key: string, value: unknown): Record<string, unknown> | undefined {
  const parsed = typeof value === 'string' ? parseJson(key, value) : value;
  if (parsed === undefined || (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))) {
    return parsed as Record<string, unknown> | undefined;
  }
  return fail(key, 'a JSON object', value);
}

function asList(key: string, value: unknown): unknown[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') {
    if (value.trim().startsWith('[')) return asList(key, parseJson(key, value));
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
  return fail(key, 'a list (JSON array or comma-separated)', value);
}

/** A plugin entry: a path (relative to the folder of cdk.json) or `{entry, name?}`. */
function asPlugin(value: unknown): PluginLayerProps {
  if (typeof value === 'string') return { entry: value };
  const entry = (value as { entry?: unknown } | null)?.entry;
  const name = (value as { name?: unknown } | null)?.name;
  if (typeof entry === 'string' && (name === undefined || typeof name === 'string')) {
    return { entry, ...optional('name', name as string | undefined) };
  }
  return fail('plugins', 'paths or {"entry": path, "name"?: name} objects', value);
}
