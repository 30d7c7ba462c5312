/**
 * The built-in backend of the local gateway: it answers every allowed request with the
 * request itself and the authorizer context, so a developer can see what a backend behind
 * API Gateway would receive.
 */

/** What the echo backend answers (HTTP 200, `application/json`). */
export interface EchoBody {
  readonly method: string;
  /** Path as the backend sees it: no stage prefix. */
  readonly path: string;
  /** Query parameters, last value of a repeated name (like `queryStringParameters`). */
  readonly query: Readonly<Record<string, string>>;
  /** Headers as forwarded to the backend, last value of a repeated name. */
  readonly headers: Readonly<Record<string, string>>;
  /** Request body decoded as UTF-8 ('' when there is none). */
  readonly body: string;
  /**
   * What a Lambda proxy integration finds in `requestContext.authorizer`: `principalId` and
   * the authorizer context, with numbers and booleans stringified as API Gateway does
   * ("The returned values are all stringified" — authorizer output docs).
   */
  readonly authorizer: Readonly<Record<string, string | null>>;
}

/**
 * Builds the echo answer for one allowed request.
 *
 * @example
 * echoBody({ method: 'GET', path: '/pets', query: new URLSearchParams('a=1'),
 *   headers: { accept: ['*\/*'] }, body: Buffer.alloc(0), authorizer: { principalId: 'k' } })
 */
export function echoBody(req: {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly body: Buffer;
  readonly authorizer: Readonly<Record<string, string | null>>;
}): EchoBody {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headers)) {
    const last = values.at(-1);
    if (last !== undefined) headers[name] = last;
  }
  return {
    method: req.method,
    path: req.path,
    query: Object.fromEntries(req.query),
    headers,
    body: req.body.toString('utf8'),
    authorizer: req.authorizer,
  };
}
