import { Annotations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { DEFAULT_WWW_AUTHENTICATE, GATEWAY_RESPONSES } from '../lambdas/core/model/gateway-responses.ts';

/** A gateway response type that gatepass sets. */
export type GatepassResponseType = keyof typeof GATEWAY_RESPONSES;

/** Options of {@link addGatepassGatewayResponses}. */
export interface GatepassGatewayResponseOptions {
  /**
   * Headers on every gatepass response (401, 403, 500), as API Gateway response parameters:
   * a literal value in single quotes (`"'https://app.example.com'"`), or a request value
   * (`'method.request.header.Origin'`). A gateway response of a type replaces the API's
   * `DEFAULT_4XX`/`DEFAULT_5XX` for that type, headers included, so repeat the API's CORS
   * headers here (`aws apigateway get-gateway-response --response-type DEFAULT_4XX` shows them).
   *
   * @default - for a `RestApi` of this app with `defaultCorsPreflightOptions` and one allowed
   * origin: `Access-Control-Allow-Origin` (and `Access-Control-Allow-Credentials`) as its
   * preflight answers; otherwise none
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The `WWW-Authenticate` challenge of the 401 (RFC 9110 requires one on a 401), as a plain
   * value; `''` sends none.
   *
   * @default 'Bearer'
   */
  readonly wwwAuthenticate?: string;
  /**
   * Other authorizers (Cognito, IAM, another Lambda) guard methods of this API too. Their
   * 401s cannot be told apart from gatepass's in a template, so UNAUTHORIZED is left to API
   * Gateway (`{"message":"Unauthorized"}`) rather than answered with gatepass's
   * `missing_credential`. ACCESS_DENIED is right for every source and is always set.
   *
   * @default false
   */
  readonly otherAuthorizers?: boolean;
}

/**
 * Gives a REST API gatepass's answers for denials and failures: ACCESS_DENIED (403 with the
 * denial's `reason`, `error` and `retryAfter` in front of API Gateway's own `message`, and a
 * `Retry-After` header mapped from the authorizer context's `retryAfter`), UNAUTHORIZED (401
 * with a `WWW-Authenticate` challenge), AUTHORIZER_FAILURE and AUTHORIZER_CONFIGURATION_ERROR
 * (500) — the same bodies as the local gateway. Without them a denied caller sees API
 * Gateway's generic body and no reason.
 *
 * `api` may be a `RestApi` of this app or one imported by id. A gateway response replaces
 * the API's existing one of the same type, and on an imported API it takes effect at the
 * stage's next deployment. Deleting the stack resets them to API Gateway's defaults.
 *
 * @example
 * const api = apigateway.RestApi.fromRestApiId(this, 'Orders', 'a1b2c3d4e5');
 * addGatepassGatewayResponses(api, { headers: { 'Access-Control-Allow-Origin': "'https://app.example.com'" } });
 */
export function addGatepassGatewayResponses(
  api: apigateway.IRestApi,
  options: GatepassGatewayResponseOptions = {},
): Partial<Record<GatepassResponseType, apigateway.GatewayResponse>> {
  if (!(api instanceof Construct)) throw new Error('gatepass: addGatepassGatewayResponses needs a RestApi construct');
  const headers = { ...(options.headers ?? corsHeadersOf(api)) };
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[A-Za-z0-9-]+$/.test(name) || value.trim() === '') {
      throw new Error(`gatepass: gateway response header ${JSON.stringify(name)} needs a header name and a value ('…' for a literal)`);
    }
  }
  const challenge = options.wwwAuthenticate ?? DEFAULT_WWW_AUTHENTICATE;
  if (challenge.includes("'")) throw new Error('gatepass: wwwAuthenticate cannot contain a single quote');

  const responses: Partial<Record<GatepassResponseType, apigateway.GatewayResponse>> = {};
  for (const [type, response] of Object.entries(GATEWAY_RESPONSES) as [
    GatepassResponseType,
    (typeof GATEWAY_RESPONSES)[GatepassResponseType],
  ][]) {
    if (type === 'UNAUTHORIZED' && options.otherAuthorizers) continue;
    const responseHeaders = {
      ...headers,
      ...('headers' in response ? response.headers : {}),
      ...(type === 'UNAUTHORIZED' && challenge !== '' ? { 'WWW-Authenticate': `'${challenge}'` } : {}),
    };
    responses[type] = new apigateway.GatewayResponse(api, `Gatepass${type}`, {
      restApi: api,
      type: apigateway.ResponseType.of(type),
      statusCode: String(response.statusCode),
      templates: { 'application/json': response.template },
      ...(Object.keys(responseHeaders).length > 0 ? { responseHeaders } : {}),
    });
  }
  return responses;
}

/**
 * The CORS headers a `RestApi` of this app answers its preflight requests with
 * (`defaultCorsPreflightOptions`), when they fit a gateway response: one allowed origin.
 * Several origins are chosen per request by the preflight's template, which a gateway
 * response cannot do: the headers must then be given.
 */
function corsHeadersOf(api: apigateway.IRestApi & Construct): Record<string, string> {
  // Only an API of this app knows its preflight options (an imported API's `root` throws).
  const cors = api instanceof apigateway.RestApi ? api.root.defaultCorsPreflightOptions : undefined;
  if (cors === undefined) return {};
  if (cors.allowOrigins.length !== 1) {
    Annotations.of(api).addWarningV2(
      'gatepass:corsOrigins',
      "gatepass's gateway responses carry no CORS headers: the API allows several origins. Pass `headers` to addGatepassGatewayResponses.",
    );
    return {};
  }
  return {
    'Access-Control-Allow-Origin': `'${cors.allowOrigins[0]}'`,
    ...(cors.allowCredentials ? { 'Access-Control-Allow-Credentials': "'true'" } : {}),
  };
}
