import { describe, expect, it } from 'vitest';
import { evaluatePolicy, globMatch } from '../../../local/policy.ts';

const ARN = 'arn:aws:execute-api:local:000000000000:api1/dev/GET/pets/42';

function answer(statements: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { principalId: 'user-1', policyDocument: { Version: '2012-10-17', Statement: statements }, ...extra };
}

function statement(effect: string, resource: unknown, action: unknown = 'execute-api:Invoke'): Record<string, unknown> {
  return { Effect: effect, Action: action, Resource: resource };
}

describe('evaluatePolicy', () => {
  it('allows when a statement allows the method ARN exactly', () => {
    expect(evaluatePolicy(answer([statement('Allow', ARN)]), ARN)).toEqual({
      effect: 'Allow',
      explicit: false,
      principalId: 'user-1',
      context: {},
    });
  });

  it('returns the context with a Deny too, for the ACCESS_DENIED template', () => {
    const result = evaluatePolicy(answer([statement('Deny', ARN)], { context: { reason: 'key_inactive', n: 3, ok: false } }), ARN);

    expect(result).toEqual({ effect: 'Deny', explicit: true, principalId: 'user-1', context: { reason: 'key_inactive', n: 3, ok: false } });
  });

  it('tells an explicit Deny from a request no statement allows (API Gateway words them differently)', () => {
    expect(evaluatePolicy(answer([statement('Allow', `${ARN}/other`)]), ARN)).toMatchObject({ effect: 'Deny', explicit: false });
  });

  it('refuses a Resource longer than the 512 characters API Gateway allows', () => {
    const long = `${ARN}/${'x'.repeat(512)}`;

    expect(evaluatePolicy(answer([statement('Allow', long)]), long)).toEqual({
      malformed: 'Statement[0].Resource is longer than 512 characters',
    });
    expect(evaluatePolicy(answer([statement('Allow', 'arn:aws:execute-api:*:*:api1/dev/*')]), long)).toMatchObject({ effect: 'Allow' });
  });

  it('lets an explicit Deny win over a matching Allow, whatever the order', () => {
    const statements = [statement('Allow', '*'), statement('Deny', 'arn:aws:execute-api:*:*:api1/dev/GET/pets/*')];

    expect(evaluatePolicy(answer(statements), ARN)).toMatchObject({ effect: 'Deny' });
    expect(evaluatePolicy(answer(statements.reverse()), ARN)).toMatchObject({ effect: 'Deny' });
  });

  it('denies implicitly when no Allow matches', () => {
    const result = evaluatePolicy(answer([statement('Allow', 'arn:aws:execute-api:local:000000000000:api1/dev/POST/*')]), ARN);

    expect(result).toMatchObject({ effect: 'Deny' });
  });

  it('denies an empty statement list', () => {
    expect(evaluatePolicy(answer([]), ARN)).toMatchObject({ effect: 'Deny' });
  });

  it('ignores statements for other actions', () => {
    expect(evaluatePolicy(answer([statement('Allow', '*', 'execute-api:ManageConnections')]), ARN)).toMatchObject({ effect: 'Deny' });
  });

  it.each([['execute-api:*'], ['*'], [['s3:GetObject', 'execute-api:Invoke']], ['Execute-API:invoke']])(
    'accepts the action %j',
    (action) => {
      expect(evaluatePolicy(answer([statement('Allow', ARN, action)]), ARN)).toMatchObject({ effect: 'Allow' });
    },
  );

  it('accepts a single statement object and a list of resources', () => {
    const result = evaluatePolicy(answer(statement('Allow', ['arn:other', 'arn:aws:execute-api:local:*:api1/dev/*'])), ARN);

    expect(result).toMatchObject({ effect: 'Allow' });
  });

  it('accepts a null context value, which API Gateway passes through', () => {
    expect(evaluatePolicy(answer([statement('Allow', '*')], { context: { alias: null } }), ARN)).toMatchObject({
      context: { alias: null },
    });
  });

  it.each([
    ['a non-object result', null, 'not an object'],
    ['a string result', 'Allow', 'not an object'],
    ['a missing principalId', { policyDocument: { Version: '2012-10-17', Statement: [] } }, 'principalId'],
    ['a numeric principalId', { principalId: 7, policyDocument: { Version: '2012-10-17', Statement: [] } }, 'principalId'],
    ['a missing policyDocument', { principalId: 'u' }, 'policyDocument'],
    ['a missing Version', { principalId: 'u', policyDocument: { Statement: [] } }, 'Version'],
    ['an unknown Version', { principalId: 'u', policyDocument: { Version: '2020-01-01', Statement: [] } }, 'Version'],
    ['a missing Statement', { principalId: 'u', policyDocument: { Version: '2012-10-17' } }, 'Statement'],
    ['a lower-case Effect', answer([statement('allow', ARN)]), 'Effect'],
    ['a missing Action', answer([{ Effect: 'Allow', Resource: ARN }]), 'Action'],
    ['an empty Resource list', answer([statement('Allow', [])]), 'Resource'],
    ['a numeric Resource', answer([statement('Allow', 42)]), 'Resource'],
    ['a Condition', answer([{ ...statement('Allow', ARN), Condition: null }]), 'Condition'],
    ['a NotResource', answer([{ Effect: 'Allow', Action: '*', NotResource: ARN }]), 'NotResource'],
    ['a nested context object', answer([statement('Allow', ARN)], { context: { user: { id: 1 } } }), 'context.user'],
    ['a context array', answer([statement('Allow', ARN)], { context: { roles: ['a'] } }), 'context.roles'],
    ['a context that is a list', answer([statement('Allow', ARN)], { context: [] }), 'context'],
  ])('reports %s as malformed', (_name, result, mention) => {
    const evaluation = evaluatePolicy(result, ARN);

    expect(evaluation).toHaveProperty('malformed');
    expect((evaluation as { malformed: string }).malformed).toContain(mention);
  });

  it('reports a malformed statement even after an allowing one', () => {
    expect(evaluatePolicy(answer([statement('Allow', '*'), 'junk']), ARN)).toHaveProperty('malformed');
  });
});

describe('globMatch', () => {
  it.each([
    ['arn:aws:execute-api:*', ARN, true],
    ['arn:aws:execute-api:*:*:*', ARN, true],
    ['arn:aws:execute-api:local:000000000000:api1/*/GET/*', ARN, true],
    ['arn:aws:execute-api:local:000000000000:api1/dev/GET/pets/4?', ARN, true],
    ['arn:aws:execute-api:local:000000000000:api1/dev/GET/pets/?', ARN, false],
    ['arn:aws:execute-api:local:000000000000:api1/dev/GET/pets', ARN, false],
    ['arn:aws:execute-api:local:000000000000:api1/dev/get/pets/42', ARN, false],
    ['arn:aws:execute-api:local:000000000000:api1/dev/GET/pets/42.', ARN, false],
    ['arn:aws:execute-api:local:000000000000:api1/dev/GET/(pets)/42', ARN, false],
  ])('matches %s against the ARN: %s', (pattern, value, expected) => {
    expect(globMatch(pattern, value, false)).toBe(expected);
  });

  it('matches regex metacharacters literally', () => {
    expect(globMatch('a.b+c', 'a.b+c', false)).toBe(true);
    expect(globMatch('a.b+c', 'axbbc', false)).toBe(false);
  });
});
