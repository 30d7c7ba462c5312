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

  /** A gateway log entry: a `request` entry writes the request's line. */
  answered(entry: object): void {
    const request = entry as Partial<GatewayRequestEntry>;
    if (request.msg !== 'request' || typeof request.requestId !== 'string') return;
    const decided = this.#pending.get(request.requestId);
    this.#pending.delete(request.requestId);
    this.#options.write(accessLogLine(request as GatewayRequestEntry, decided?.record, decided?.key, (this.#options.clock ?? Date.now)()));
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
