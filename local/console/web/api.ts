/**
 * The admin API as the page reaches it: `/api/*` on the console's own server, which forwards
 * each call (signed, for a deployed stack). The session cookie goes along by itself
 * (same origin); the page holds no credential.
 */
import type { Session } from '../../../lambdas/core/model/session.ts';

/** One bad field, as the admin API names it in `error.details` of a 400. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** An error answer: `{"error": {code, message, details?}}`, or a transport problem. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, body: unknown) {
    const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    super(error?.message ?? `the admin API answered ${status}`);
    this.status = status;
    this.code = error?.code ?? 'http_error';
    this.details = error?.details;
  }

  /** The field problems of a 400 `invalid_fields`; none for other errors. */
  get fields(): FieldProblem[] {
    return Array.isArray(this.details)
      ? this.details.filter((d): d is FieldProblem => typeof d?.field === 'string' && typeof d?.message === 'string')
      : [];
  }

  /** The version a 409 `version_conflict` says the item is at now. */
  get currentVersion(): number | undefined {
    return (this.details as { currentVersion?: number } | undefined)?.currentVersion;
  }
}

export interface CallOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  /** @default 'application/json' */
  readonly contentType?: string;
  readonly ifMatch?: number;
  readonly ifNoneMatch?: '*';
}

/** Calls the admin API; an error status throws {@link ApiProblem}. */
export async function api<T>(path: string, options: CallOptions = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined && value !== '') query.set(name, String(value));
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  if (options.ifMatch !== undefined) headers['if-match'] = String(options.ifMatch);
  if (options.ifNoneMatch !== undefined) headers['if-none-match'] = options.ifNoneMatch;
  const search = query.toString() === '' ? '' : `?${query}`;
  let res: Response;
  try {
    res = await fetch(`/api${path}${search}`, {
      method: options.method ?? 'GET',
      headers,
      credentials: 'same-origin',
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch (error) {
    throw new ApiProblem(0, { error: { code: 'console_unreachable', message: `the console server did not answer: ${error}` } });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = { error: { code: 'not_json', message: text.slice(0, 200) } };
  }
  if (!res.ok) throw new ApiProblem(res.status, body);
  return body as T;
}

/** A key as the admin API returns it: the public session (its type shared with the admin API). */
export type { Session } from '../../../lambdas/core/model/session.ts';

export interface Limits {
  readonly rate: number;
  readonly per: number;
  readonly quotaMax: number;
  readonly quotaRenewalRate: number;
}

export interface Policy extends Partial<Limits> {
  readonly id: string;
  readonly name?: string;
  readonly accessRights: Record<string, unknown>;
  readonly partitions?: { quota?: boolean; rateLimit?: boolean; acl?: boolean; perApi?: boolean };
  readonly keyExpiresIn: number;
  readonly tags: string[];
  readonly metaData: Record<string, string | number | boolean>;
  readonly isInactive: boolean;
  readonly version: number;
  readonly ignoredFields?: string[];
}

export interface Explanation {
  readonly decision: 'allow' | 'deny';
  readonly reason?: string;
  readonly message?: string;
  readonly checks: { check: string; outcome: 'pass' | 'fail' | 'skip'; detail: string }[];
  readonly effective: {
    readonly limits: Limits;
    readonly accessRights: Record<string, { limit?: Limits }>;
    readonly policies: { applied: string[]; missing: string[]; inactive: string[] };
  };
}

export interface UsageDay {
  readonly day: string;
  readonly allowed: number;
  readonly denied: Record<string, number>;
}

export interface KeyUsage {
  readonly days: UsageDay[];
  readonly totals: { allowed: number; denied: Record<string, number> };
}

export interface ConsoleInfo {
  readonly target: string;
  readonly apiId?: string;
  readonly stage?: string;
}

/** Where the console is connected, and the explain form's defaults (from the console server itself). */
export async function consoleInfo(): Promise<ConsoleInfo> {
  const res = await fetch('/console/info', { credentials: 'same-origin' });
  if (!res.ok) throw new ApiProblem(res.status, undefined);
  return (await res.json()) as ConsoleInfo;
}

/**
 * The request explain is asked about when only the key's limits are wanted: the local
 * gateway's API and stage when known. The key-level limits in force do not depend on them.
 */
export function limitsTarget(info: ConsoleInfo, key?: Session): { apiId: string; stage: string } {
  return { apiId: info.apiId ?? Object.keys(key?.accessRights ?? {})[0] ?? 'any', stage: info.stage ?? 'any' };
}
