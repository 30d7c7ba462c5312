import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { maskKey } from '../lambdas/core/model/keys.ts';
import type { DecisionRecord } from '../lambdas/core/observability/decision-record.ts';
import { normalizeHeaders, readCredential } from '../lambdas/core/request/credential.ts';

/** A request as the local gateway logs it when it has answered. */
export interface GatewayRequestEntry {
  readonly msg: 'request';
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Total time, ms. */
  readonly ms: number;
}

/** A failure the gateway logs before it answers: the integration's, or the authorizer's. */
interface GatewayFailureEntry {
  readonly msg: 'integration failure' | 'authorizer failure';
  readonly requestId: string;
  readonly upstream?: string;
  readonly error?: unknown;
  readonly detail?: unknown;
}

/** An admin API request as the local admin server logs it when it has answered. */
export interface AdminRequestEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The error code of an error answer (`version_conflict`…). */
  readonly code?: string;
  readonly ms: number;
}

/** What the access log needs to know about the credential. */
export interface AccessLogOptions {
  /** Receives one line per request. */
  readonly write: (line: string) => void;
  /** The config's `apiKeyHeader`. */
  readonly apiKeyHeader: string;
  /** Whether JWT is configured (a `Bearer a.b.c` is then a token). */
  readonly jwt: boolean;
  /** @default Date.now */
  readonly clock?: () => number;
}

/** Requests whose decision is waiting for the gateway's answer; more are dropped oldest first. */
const MAX_PENDING = 10_000;

/**
 * The local gateway's access log, one line per request, like a gateway's:
 *
 * ```
 * 2026-11-29T10:15:03.120Z GET /hello 403 rate_limited key=****56bc 3ms dynamodb=1
 * ```
 *
 * time, method, path, status, reason (`allowed`, the denial's reason, `authorizer_failure`),
 * the masked credential (never the key), the time the gateway took, and the DynamoDB
 * requests the authorizer sent. The authorizer's record of a request ({@link decided}) and
 * the gateway's answer ({@link answered}) are joined by the request id.
 */
export class AccessLog {
  readonly #options: AccessLogOptions;
  readonly #pending = new Map<string, { record: DecisionRecord; key: string }>();
  readonly #failures = new Map<string, string>();

  constructor(options: AccessLogOptions) {
    this.#options = options;
  }

  /** The authorizer's record of a request (its `onDecision`). */
  decided(record: DecisionRecord, event: APIGatewayRequestAuthorizerEvent): void {
    const requestId = event.requestContext?.requestId;
    if (typeof requestId !== 'string') return;
    if (this.#pending.size >= MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value as string);
    this.#pending.set(requestId, { record, key: this.#maskedCredential(event) });
  }

  /**
   * A gateway log entry: a `request` entry writes the request's line; a failure logged before
   * it (the upstream's, or an authorizer answer API Gateway could not use) is named on that line.
   */
  answered(entry: object): void {
    const failure = entry as Partial<GatewayFailureEntry>;
    if ((failure.msg === 'integration failure' || failure.msg === 'authorizer failure') && typeof failure.requestId === 'string') {
      if (this.#failures.size >= MAX_PENDING) this.#failures.delete(this.#failures.keys().next().value as string);
      this.#failures.set(failure.requestId, failureText(failure as GatewayFailureEntry));
      return;
    }
    const request = entry as Partial<GatewayRequestEntry>;
    if (request.msg !== 'request' || typeof request.requestId !== 'string') return;
    const decided = this.#pending.get(request.requestId);
    const failed = this.#failures.get(request.requestId);
    this.#pending.delete(request.requestId);
    this.#failures.delete(request.requestId);
    const line = accessLogLine(request as GatewayRequestEntry, decided?.record, decided?.key, (this.#options.clock ?? Date.now)());
    this.#options.write(failed === undefined ? line : `${line} ${failed}`);
  }

  /** An admin API request, answered by the local admin server. */
  admin(entry: AdminRequestEntry): void {
    this.#options.write(adminLogLine(entry, (this.#options.clock ?? Date.now)()));
  }

  #maskedCredential(event: APIGatewayRequestAuthorizerEvent): string {
    const credential = readCredential(normalizeHeaders(event.headers), this.#options.apiKeyHeader, this.#options.jwt);
    if (credential.kind === 'apiKey') return maskKey(credential.key);
    if (credential.kind === 'jwt') return `jwt:${maskKey(credential.token)}`;
    return '-';
  }
}

/**
 * One access log line. A request the authorizer never saw (a body over the limit) has `-`
 * for the reason, the key and the DynamoDB requests.
 */
export function accessLogLine(request: GatewayRequestEntry, record: DecisionRecord | undefined, key = '-', nowMs = Date.now()): string {
  const reason = record === undefined ? '-' : record.faultKind ? `${record.reason}(${record.faultKind})` : record.reason;
  const dynamodb = record === undefined ? '-' : String(record.dynamodbRequests);
  const time = new Date(nowMs - request.ms).toISOString();
  return `${time} ${request.method} ${request.path} ${request.status} ${reason} key=${key} ${request.ms}ms dynamodb=${dynamodb}`;
}

/**
 * One admin API line: time, `admin`, method, path, status, `ok` or the error code, time taken.
 *
 * @example
 * adminLogLine({ method: 'PATCH', path: '/keys/ab…', status: 409, code: 'version_conflict', ms: 4 });
 * // '2026-11-29T10:15:03.120Z admin PATCH /keys/ab… 409 version_conflict 4ms'
 */
export function adminLogLine(entry: AdminRequestEntry, nowMs = Date.now()): string {
  const time = new Date(nowMs - entry.ms).toISOString();
  const outcome = entry.status < 400 ? 'ok' : (entry.code ?? '-');
  return `${time} admin ${entry.method} ${entry.path} ${entry.status} ${outcome} ${entry.ms}ms`;
}

/** `upstream=http://127.0.0.1:9 error="connect ECONNREFUSED 127.0.0.1:9"`, or the authorizer's failure. */
function failureText(failure: GatewayFailureEntry): string {
  const message = errorText(failure.error);
  if (failure.msg === 'integration failure') return `upstream=${failure.upstream ?? '-'} error=${JSON.stringify(message)}`;
  const detail = failure.detail === undefined ? '' : `: ${errorText(failure.detail)}`;
  return `authorizer=${JSON.stringify(message + detail)}`;
}

/** An error as the gateway logs it (a string, or `describe`'s `{message}` / `{value}`), as text. */
function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  const described = error as { message?: unknown; value?: unknown } | undefined;
  return String(described?.message ?? described?.value ?? 'unknown error');
}
