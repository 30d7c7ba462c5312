import { describe, expect, it } from 'vitest';
import { denialFields, GATEWAY_RESPONSES, gatewayResponseHeaders } from '../../../lambdas/core/model/gateway-responses.ts';

describe('denialFields', () => {
  it('puts retryAfter after error and reason when the denial has one', () => {
    const body = `{${denialFields('rate_limited', 'Rate Limit Exceeded', 3)}"message":"m"}`;
    expect(JSON.parse(body)).toEqual({ error: 'Rate Limit Exceeded', reason: 'rate_limited', retryAfter: 3, message: 'm' });
  });

  it('leaves retryAfter out when there is none, or when it is not a whole number of seconds', () => {
    for (const retryAfter of [undefined, 0, 1.5, Number.NaN]) {
      expect(JSON.parse(`{${denialFields('key_inactive', 'Key is inactive, please renew', retryAfter)}"message":"m"}`)).toEqual({
        error: 'Key is inactive, please renew',
        reason: 'key_inactive',
        message: 'm',
      });
    }
  });
});

describe('gatewayResponseHeaders', () => {
  it("fills the ACCESS_DENIED Retry-After from the authorizer context's retryAfter", () => {
    expect(gatewayResponseHeaders(GATEWAY_RESPONSES.ACCESS_DENIED.headers, { retryAfter: 42, reason: 'rate_limited' })).toEqual({
      'Retry-After': '42',
    });
  });

  it('leaves a header out when the context has no value for it, and passes literals as they are', () => {
    expect(gatewayResponseHeaders(GATEWAY_RESPONSES.ACCESS_DENIED.headers, { reason: 'key_inactive' })).toEqual({});
    expect(gatewayResponseHeaders({ 'X-Static': "'yes'" }, {})).toEqual({ 'X-Static': 'yes' });
  });
});
