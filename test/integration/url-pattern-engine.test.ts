import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyService } from '../../lambdas/admin/key-service.ts';
import { PolicyFieldsSchema } from '../../lambdas/core/policies/policy.ts';
import { PolicyStore } from '../../lambdas/core/policies/policy-store.ts';
import { SessionStore } from '../../lambdas/core/store/store.ts';
import { restRequestEvent, LAMBDA_CONTEXT } from '../support/authorizer-events.ts';
import { createTestTable, type TestTable } from '../support/dynamo.ts';

/**
 * The authorizer loads the RE2 engine only when a key's rights list URL patterns. Here its
 * modules are imported afresh (the test setup's engine is not theirs): it must load the
 * engine itself before it checks a policy or matches a path, and decide as it always did.
 */
describe('an authorizer that has not loaded the RE2 engine', () => {
  let table: TestTable;
  const rights = { api1: { allowedUrls: [{ url: '/pets/[0-9]+', methods: ['GET'] }] } };

  beforeAll(async () => {
    table = await createTestTable('url-engine');
  });
  afterAll(() => table.drop());

  /** The authorizer handler and the engine's state, from modules nobody has used yet. */
  async function freshAuthorizer() {
    vi.resetModules();
    const { createAuthorizerHandler } = await import('../../lambdas/authorizer/handler.ts');
    const { Logger } = await import('@aws-lambda-powertools/logger');
    const engine = await import('../../lambdas/core/model/url-pattern-engine.ts');
    const handler = createAuthorizerHandler({
      config: JSON.stringify({ tableName: table.tableName }),
      client: table.doc,
      logger: new Logger({ serviceName: 'url-engine-test', logLevel: 'SILENT' }),
      metrics: false,
    });
    const effect = async (key: string, path: string) => {
      const event = restRequestEvent({ Authorization: key }, `arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET${path}`);
      const result = (await handler({ ...event, path }, LAMBDA_CONTEXT)) as { policyDocument: { Statement: Array<{ Effect: string }> } };
      return result.policyDocument.Statement[0]!.Effect;
    };
    const loaded = () => {
      try {
        engine.re2();
        return true;
      } catch {
        return false;
      }
    };
    return { effect, loaded };
  }

  it('serves a key without URL rights without loading it', async () => {
    const { key } = await new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 0 })).create(
      {},
    );
    const { effect, loaded } = await freshAuthorizer();

    expect(await effect(key, '/anything')).toBe('Allow');
    expect(loaded()).toBe(false);
  });

  it("loads it for a key's own URL rights, and matches them", async () => {
    const keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 0 }));
    const { key } = await keys.create({ accessRights: rights });
    const { effect, loaded } = await freshAuthorizer();

    expect(await effect(key, '/pets/42')).toBe('Allow');
    expect(loaded()).toBe(true);
    expect(await effect(key, '/cats')).toBe('Deny');
  });

  it("loads it for a policy's URL rights before checking the policy", async () => {
    const policies = new PolicyStore({ client: table.doc, tableName: table.tableName, cacheSeconds: 0 });
    await policies.put('pets-only', PolicyFieldsSchema.parse({ accessRights: rights }));
    const keys = new KeyService(new SessionStore({ client: table.doc, tableName: table.tableName, retentionSeconds: 0 }), undefined, {
      policies,
    });
    const { key } = await keys.create({ applyPolicies: ['pets-only'] });
    const { effect } = await freshAuthorizer();

    expect(await effect(key, '/cats')).toBe('Deny');
    expect(await effect(key, '/pets/7')).toBe('Allow');
  });
});
