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
 */
export const GATEWAY_RESPONSES = {
  /** 403: a Deny policy; `$context.authorizer.*` is the Deny's context. */
  ACCESS_DENIED: {
    statusCode: 403,
    template: '{$context.authorizer.gatepassDenial"message":$context.error.messageString}',
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
 * What a gatepass Deny puts under {@link DENIAL_CONTEXT_KEY}: its `error` and `reason` as
 * JSON members, each followed by a comma, to be inserted verbatim in front of `"message"`.
 *
 * @example
 * denialFields('quota_exceeded', 'Quota exceeded'); // '"error":"Quota exceeded","reason":"quota_exceeded",'
 */
export function denialFields(reason: string, message: string): string {
  return `"error":${JSON.stringify(message)},"reason":${JSON.stringify(reason)},`;
}
