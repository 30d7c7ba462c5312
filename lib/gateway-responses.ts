import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { GATEWAY_RESPONSES } from '../lambdas/core/model/gateway-responses.ts';

/** A gateway response type that gatepass sets. */
export type GatepassResponseType = keyof typeof GATEWAY_RESPONSES;

/**
 * Gives a REST API gatepass's answers for denials and failures (SPEC §4): ACCESS_DENIED
 * (403 with the denial's `reason` and `message`), UNAUTHORIZED (401), AUTHORIZER_FAILURE
 * and AUTHORIZER_CONFIGURATION_ERROR (500) — the same bodies as the local gateway. Without
 * them a denied caller sees API Gateway's generic body and no reason.
 *
 * `api` may be a `RestApi` of this app or one imported by id. A gateway response replaces
 * the API's existing one of the same type, and on an imported API it takes effect at the
 * stage's next deployment. Deleting the stack resets them to API Gateway's defaults.
 *
 * @example
 * const api = apigateway.RestApi.fromRestApiId(this, 'Orders', 'a1b2c3d4e5');
 * addGatepassGatewayResponses(api);
 */
export function addGatepassGatewayResponses(api: apigateway.IRestApi): Record<GatepassResponseType, apigateway.GatewayResponse> {
  if (!(api instanceof Construct)) throw new Error('gatepass: addGatepassGatewayResponses needs a RestApi construct');
  const responses = {} as Record<GatepassResponseType, apigateway.GatewayResponse>;
  for (const [type, response] of Object.entries(GATEWAY_RESPONSES) as [GatepassResponseType, (typeof GATEWAY_RESPONSES)[GatepassResponseType]][]) {
    responses[type] = new apigateway.GatewayResponse(api, `Gatepass${type}`, {
      restApi: api,
      type: apigateway.ResponseType.of(type),
      statusCode: String(response.statusCode),
      templates: { 'application/json': response.template },
    });
  }
  return responses;
}
