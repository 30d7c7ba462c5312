import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { keyIdOf } from '../core/model/keys.ts';
import { ifMatchVersion, type HttpResult } from './http.ts';
import { versionBeforeOf } from './version-before.ts';
import type { Route } from './route.ts';
import { toHttpError } from './routes.ts';

/**
 * The audit trail of the admin API: one structured line per write (message `admin audit`),
 * made by wrapping the write routes — never by the services, so that no write path can skip
 * it. The line names the key by its id (SHA-256), never by the raw key, even on a create or
 * an import, and carries no request or answer body.
 */

/** One admin write, as the audit line records it. */
export interface AuditEntry {
  /** When the write was answered (ISO 8601). */
  readonly time: string;
  /**
   * The IAM principal of a Function URL request (`requestContext.authorizer.iam.userArn`),
   * else the handler's `caller` (`local` under `gatepass dev`).
   */
  readonly caller: string;
  /** `keys.create`, `keys.update`, `keys.reset-quota`, `policies.put`… */
  readonly action: string;
  /** The key id or policy id written; absent when not known (a create refused before naming one). */
  readonly target?: string;
  /** The settings version before the write; absent when not known (a create, a delete without `If-Match`). */
  readonly versionBefore?: number;
  /** The version after it; absent after a delete, or when the write failed. */
  readonly versionAfter?: number;
  /** `ok`, or the error code answered (`version_conflict`, `invalid_fields`, `internal_error`…). */
  readonly outcome: string;
  readonly status: number;
  /** The request's id (the Function URL's), to find its other log lines. */
  readonly requestId?: string;
}

export interface AuditOptions {
  /** Receives each entry (the admin handler logs it as `admin audit`). */
  readonly write: (entry: AuditEntry) => void;
  /** Who a request without an IAM principal comes from. @default 'unknown' (a direct Lambda invoke: see CloudTrail) */
  readonly caller?: string;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The routes, each write route wrapped so that every answer it gives — success, refusal or
 * fault — writes one {@link AuditEntry}. A route names its action (`Route.action`); a write
 * route that names none is audited as `<METHOD> <path>`.
 *
 * @example
 * const table = audited([...routes(keys, usage), ...policyRoutes(policies)], {
 *   write: (entry) => logger.info('admin audit', { ...entry }),
 * });
 */
export function audited(table: readonly Route[], options: AuditOptions): Route[] {
  const clock = options.clock ?? Date.now;
  return table.map((route) => {
    if (READS.has(route.method)) return route;
    return {
      ...route,
      handle: async (event, params) => {
        const record = (result: Answer): void =>
          options.write(auditEntry({ event, params, action: route.action ?? `${route.method} ${event.rawPath}`, result, clock, options }));
        try {
          const result = await route.handle(event, params);
          record(result);
          return result;
        } catch (error) {
          const known = toHttpError(error);
          record({ statusCode: known?.status ?? 500, code: known?.code ?? 'internal_error', details: known?.details });
          throw error;
        }
      },
    };
  });
}

/** What a route answered: its result, or the error it threw (as the handler will answer it). */
type Answer = HttpResult | { readonly statusCode: number; readonly code: string; readonly details: unknown };

interface EntryInput {
  readonly event: APIGatewayProxyEventV2;
  readonly params: Record<string, string>;
  readonly action: string;
  readonly result: Answer;
  readonly clock: () => number;
  readonly options: AuditOptions;
}

/** The audit entry of one answered write. */
export function auditEntry({ event, params, action, result, clock, options }: EntryInput): AuditEntry {
  const ok = result.statusCode < 400;
  const body = 'code' in result ? undefined : parseBody(result.body);
  const error = 'code' in result ? { code: result.code, details: result.details } : errorOf(body);
  const ifMatch = expectedVersion(event);
  const versions = ok ? versionsOf(action, body, ifMatch, versionBeforeOf(result)) : { before: currentVersion(error?.details) ?? ifMatch };
  const requestId = event.requestContext?.requestId;
  const target = params.keyId ?? params.id ?? stringField(body, 'keyId') ?? importedKeyId(event);
  return {
    time: new Date(clock()).toISOString(),
    caller: callerOf(event) ?? options.caller ?? 'unknown',
    action,
    ...(target === undefined ? {} : { target }),
    ...(versions.before === undefined ? {} : { versionBefore: versions.before }),
    ...(versions.after === undefined ? {} : { versionAfter: versions.after }),
    outcome: ok ? 'ok' : (error?.code ?? `http_${result.statusCode}`),
    status: result.statusCode,
    ...(typeof requestId === 'string' ? { requestId } : {}),
  };
}

/**
 * Versions before and after a successful write. A PATCH, PUT or rotation says which version
 * it was checked against (`written`: equal to the answer's when it changed nothing, so the
 * line claims no step another write made); else every change adds exactly 1 to the version
 * (a create starts at 1) and answers the key at the version it wrote; a quota reset without
 * `If-Match` is not guarded by the version, so which one it moved is not known (its answer is
 * the key read after it); a delete answers no body, so its version before is known only from
 * `If-Match`.
 */
function versionsOf(
  action: string,
  body: unknown,
  ifMatch: number | undefined,
  written: number | undefined,
): { before?: number | undefined; after?: number } {
  const after = numberField(body, 'version') ?? numberField(field(body, 'session'), 'version');
  if (action.endsWith('.delete') || after === undefined) return { before: ifMatch };
  if (action === 'keys.create') return { after };
  if (action === 'keys.reset-quota') return ifMatch === undefined ? {} : { before: ifMatch, after: ifMatch + 1 };
  if (action === 'keys.update' || action === 'keys.replace' || action === 'keys.rotate' || action === 'policies.put') {
    if (written !== undefined) return { before: written, after };
    return after > 1 ? { before: after - 1, after } : { after };
  }
  return { before: ifMatch, after };
}

/** The Function URL's IAM principal. A direct invoke writes its own event: it has none (CloudTrail records those callers). */
function callerOf(event: APIGatewayProxyEventV2): string | undefined {
  const arn = (event as Partial<APIGatewayProxyEventV2WithIAMAuthorizer>).requestContext?.authorizer?.iam?.userArn;
  return typeof arn === 'string' && arn.length > 0 ? arn : undefined;
}

function expectedVersion(event: APIGatewayProxyEventV2): number | undefined {
  try {
    return ifMatchVersion(event);
  } catch {
    return undefined; // a bad If-Match is the answer's 400, not the audit's concern
  }
}

/** The id of a key a create tried to import (its hash, never the key), for a create refused before it answered one. */
function importedKeyId(event: APIGatewayProxyEventV2): string | undefined {
  if (event.requestContext?.http?.method !== 'POST' || event.rawPath !== '/keys') return undefined;
  const key = stringField(parseBody(event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body), 'key');
  return key === undefined ? undefined : keyIdOf(key);
}

function currentVersion(details: unknown): number | undefined {
  return numberField(details, 'currentVersion');
}

function errorOf(body: unknown): { code: string; details: unknown } | undefined {
  const error = field(body, 'error');
  const code = stringField(error, 'code');
  return code === undefined ? undefined : { code, details: field(error, 'details') };
}

function parseBody(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}

function numberField(value: unknown, name: string): number | undefined {
  const found = field(value, name);
  return typeof found === 'number' ? found : undefined;
}

function stringField(value: unknown, name: string): string | undefined {
  const found = field(value, name);
  return typeof found === 'string' ? found : undefined;
}
