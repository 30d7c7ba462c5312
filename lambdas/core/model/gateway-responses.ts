/**
 * The bodies API Gateway answers when the authorizer denies or fails. The CDK stack
 * installs them as gateway responses; the local gateway answers with the same bodies.
 *
 * Gateway response templates are not run through VTL: API Gateway only substitutes
 * variables, as they are, with no escaping ("x-amazon-apigateway-gateway-responses.
 * responseTemplates" in the API Gateway developer guide). So a template cannot branch on
 * who denied the request, and the ACCESS_DENIED body is built to be right for every source:
 * API Gateway's own `message` (what its default body holds), preceded by gatepass's
 * `error` and `reason` when the Deny is gatepass's. A resource-policy denial or another
 * authorizer's Deny then reads exactly like API Gateway's default body.
 *
 * Headers: a REST API gateway response maps its headers (`gatewayresponse.header.<name>`)
 * from a literal, a method request parameter, a stage variable or a context variable
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.responseParameters.html,
 * whose sources are those of
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-parameter-mapping-sources.html:
 * `context.<name>`, one of the supported context variables, among them
 * `$context.authorizer.<key>`). So the 403 of a `rate_limited` or `quota_exceeded` denial
 * carries `Retry-After` from the Deny's `retryAfter`, and still answers 403, not 429: a
 * REST API's Lambda authorizer can only make API Gateway answer 401, 403 or 500.
 *
 * HTTP APIs cannot do any of this: they have no gateway responses, a denial is always
 * API Gateway's own `403 {"message":"Forbidden"}`, and their response parameter mapping
 * applies to integration responses only
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html).
 * An HTTP API client gets no reason, no `retryAfter` and no `Retry-After`.
 */
export const GATEWAY_RESPONSES = {
  /**
   * 403: a Deny policy; `$context.authorizer.*` is the Deny's context. `Retry-After` is
   * mapped from the context's `retryAfter` (set on `rate_limited` and `quota_exceeded`).
   */
  ACCESS_DENIED: {
    statusCode: 403,
    template: '{$context.authorizer.gatepassDenial"message":$context.error.messageString}',
    headers: { 'Retry-After': 'context.authorizer.retryAfter' },
  },
  /**
   * 401: the authorizer threw `Unauthorized` (no credential in the request), or an identity
   * source was missing. Another authorizer's 401 on the same API gets this body too: attach
   * with `otherAuthorizers` to leave UNAUTHORIZED to API Gateway.
   */
  UNAUTHORIZED: {
    statusCode: 401,
    template: '{"error": "Authorization field missing", "reason": "missing_credential"}',
  },
  /** 500: the authorizer failed (fault, timeout, malformed answer): never an Allow. */
  AUTHORIZER_FAILURE: {
    statusCode: 500,
    template: '{"error": "Authorizer failure", "reason": "authorizer_failure"}',
  },
  /**
   * 500: API Gateway reports a Lambda authorizer that throws (other than `Unauthorized`),
   * times out or answers malformed as `AuthorizerConfigurationException`, which uses this
   * response type rather than AUTHORIZER_FAILURE. Same body, so callers see one answer.
   */
  AUTHORIZER_CONFIGURATION_ERROR: {
    statusCode: 500,
    template: '{"error": "Authorizer failure", "reason": "authorizer_failure"}',
  },
} as const;

/** The context key of a gatepass Deny that the ACCESS_DENIED template inserts. */
export const DENIAL_CONTEXT_KEY = 'gatepassDenial';

/** The `WWW-Authenticate` challenge of the 401 unless configured otherwise (RFC 9110 §11.6.1 requires one). */
export const DEFAULT_WWW_AUTHENTICATE = 'Bearer';

/**
 * What a gatepass Deny puts under {@link DENIAL_CONTEXT_KEY}: its `error`, `reason` and, when
 * waiting helps (`rate_limited`, a renewing `quota_exceeded`), `retryAfter` in seconds, as
 * JSON members each followed by a comma, to be inserted verbatim in front of `"message"`.
 *
 * @example
 * denialFields('rate_limited', 'Rate Limit Exceeded', 3); // '"error":"Rate Limit Exceeded","reason":"rate_limited","retryAfter":3,'
 */
export function denialFields(reason: string, message: string, retryAfter?: number): string {
  const wait = typeof retryAfter === 'number' && Number.isInteger(retryAfter) && retryAfter > 0 ? `"retryAfter":${retryAfter},` : '';
  return `"error":${JSON.stringify(message)},"reason":${JSON.stringify(reason)},${wait}`;
}

/**
 * The headers of a gateway response as API Gateway fills them: a literal (`'Bearer'`) as it
 * is, `context.authorizer.<key>` from the authorizer's context. A context value that is
 * missing leaves the header out (the local gateway's reading; API Gateway documents no
 * other). Used by the local gateway; the CDK construct installs the same mappings.
 *
 * @example
 * gatewayResponseHeaders({ 'Retry-After': 'context.authorizer.retryAfter' }, { retryAfter: 3 }); // { 'Retry-After': '3' }
 */
export function gatewayResponseHeaders(
  mappings: Readonly<Record<string, string>>,
  context: Readonly<Record<string, unknown>>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, source] of Object.entries(mappings)) {
    const literal = /^'(.*)'$/s.exec(source);
    if (literal) {
      headers[name] = literal[1] as string;
      continue;
    }
    const key = /^context\.authorizer\.([A-Za-z0-9_]+)$/.exec(source)?.[1];
    const value = key !== undefined && Object.hasOwn(context, key) ? context[key] : undefined;
    if (value !== undefined && value !== null && value !== '') headers[name] = String(value);
  }
  return headers;
}
