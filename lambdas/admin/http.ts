import { unstorable } from '../core/model/storable.ts';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { VERSION_BEFORE, versionBeforeOf, type WithVersionBefore } from './version-before.ts';

/** Largest admin body accepted (bytes). */
export const MAX_BODY_BYTES = 64 * 1024;

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

/** An error the admin API answers with `{"error": {code, message, details?}}`. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult & WithVersionBefore {
  const versionBefore = versionBeforeOf(body);
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(versionBefore === undefined ? {} : { [VERSION_BEFORE]: versionBefore }),
  };
}

export function noContent(): HttpResult {
  return { statusCode: 204, headers: {}, body: '' };
}

export function errorResult(error: HttpError): HttpResult {
  return json(error.status, {
    error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) },
  });
}

/**
 * The JSON body of a request: 413 over {@link MAX_BODY_BYTES}, 415 unless the content
 * type is JSON, 400 when it does not parse. Base64 bodies (Function URLs) are decoded.
 */
export function readJsonBody(event: APIGatewayProxyEventV2, jsonTypes: readonly string[] = ['application/json']): unknown {
  return readBody(event, jsonTypes).body;
}

/**
 * {@link readJsonBody}, also telling which of `types` the body was sent as (a route may
 * accept several JSON dialects, such as Tyk's session objects).
 */
export function readBody<T extends string>(event: APIGatewayProxyEventV2, types: readonly T[]): { body: unknown; type: T } {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    throw new HttpError(413, 'payload_too_large', `request body is over ${MAX_BODY_BYTES} bytes`);
  }
  const type = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!(types as readonly string[]).includes(type)) {
    throw new HttpError(415, 'unsupported_media_type', `content-type must be ${types.join(' or ')}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'request body is not valid JSON');
  }
  const problems = unstorable(body);
  if (problems.length > 0) {
    throw new HttpError(400, 'invalid_fields', `invalid fields: ${problems.map((p) => p.field).join(', ')}`, problems);
  }
  return { body, type: type as T };
}

/** A header value, by case-insensitive name. */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** `If-Match: 3` (or `"3"`, `W/"3"`) → 3; absent → undefined; anything else → 400. */
export function ifMatchVersion(event: APIGatewayProxyEventV2): number | undefined {
  const value = header(event, 'if-match');
  if (value === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(value);
  if (!match)
    throw new HttpError(400, 'invalid_if_match', 'If-Match must be a session version number', [
      { field: 'If-Match', message: 'must be a version number' },
    ]);
  return Number(match[1]);
}
