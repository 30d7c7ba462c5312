import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Sends a JSON body with API Gateway's `x-amzn-ErrorType` header when given. */
export function sendJson(res: ServerResponse, status: number, body: string, errorType?: string): void {
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (errorType !== undefined) headers['x-amzn-ErrorType'] = errorType;
  res.writeHead(status, headers).end(body);
}

/** An error as a log field. */
export function describe(error: unknown): object {
  return error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { value: String(error) };
}
