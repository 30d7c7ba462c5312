import { describe, expect, it } from 'vitest';
import { faultKindOf } from '../../../lambdas/authorizer/fault-kind.ts';
import { ContentionError, GatepassError, PluginError } from '../../../lambdas/core/model/errors.ts';

describe('faultKindOf', () => {
  const none = { dynamodbErrors: [] as unknown[] };

  it('names a DynamoDB error first, even wrapped in a plugin error', () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException', $metadata: {} });

    expect(faultKindOf(throttled, none)).toBe('dynamodb');
    expect(faultKindOf(new PluginError('renew', 'updateSession failed', { cause: throttled }), none)).toBe('dynamodb');
  });

  it('recognises an error a DynamoDB call threw by its identity (a timeout has no SDK metadata)', () => {
    const timeout = Object.assign(new Error('Request timed out'), { name: 'TimeoutError' });

    expect(faultKindOf(new Error('Authorizer failure', { cause: timeout }), { dynamodbErrors: [timeout] })).toBe('dynamodb');
    expect(faultKindOf(new Error('Authorizer failure', { cause: timeout }), none)).toBe('other');
  });

  it('reads gatepass error codes through the cause chain', () => {
    expect(faultKindOf(new Error('x', { cause: new GatepassError('ERR_JWKS_UNAVAILABLE', 'down') }), none)).toBe('jwks');
    expect(faultKindOf(new PluginError('p', 'threw', { cause: new TypeError('boom') }), none)).toBe('plugin');
    expect(faultKindOf(new ContentionError('gave up'), none)).toBe('contention');
    expect(faultKindOf(new GatepassError('ERR_CONFIG_INVALID', 'bad'), none)).toBe('config');
    expect(faultKindOf(new GatepassError('ERR_STORE', 'unprocessed'), none)).toBe('dynamodb');
  });

  it('is other for anything else, and survives a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;

    expect(faultKindOf(a, none)).toBe('other');
    expect(faultKindOf('a string', none)).toBe('other');
  });
});
