/**
 * The bodies API Gateway answers when the authorizer denies or fails. The CDK stack
 * installs them as gateway responses; the local gateway answers with the same bodies.
 * Only ACCESS_DENIED carries the authorizer's context (reason and message).
 */
export const GATEWAY_RESPONSES = {
  /** 403: a Deny policy; `$context.authorizer.*` is the Deny's context. */
  ACCESS_DENIED: {
    statusCode: 403,
    template: '{"error": "$context.authorizer.message", "reason": "$context.authorizer.reason"}',
  },
  /** 401: the authorizer threw `Unauthorized` (no credential in the request). */
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
